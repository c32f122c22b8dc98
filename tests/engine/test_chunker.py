import io
import os
import random

from engine.repo.chunker import Chunker


def test_compiled_chunker_is_used():
    import pyfastcdc.cy  # the compiled module, not the pure-Python fallback

    assert Chunker(256 * 1024, 1 << 20, 8 << 20)._cdc.__class__.__module__ == pyfastcdc.cy.FastCDC.__module__


def test_insertion_moves_only_nearby_chunks():
    rnd = random.Random(1)
    data = rnd.randbytes(24 << 20)
    shifted = data[: 10 << 20] + b"inserted!" + data[10 << 20 :]
    c = Chunker(256 * 1024, 1 << 20, 8 << 20, seed=42)
    a = {bytes(x) for x in c.cut(data)}
    b = [bytes(x) for x in c.cut(shifted)]
    assert sum(x in a for x in b) >= len(b) - 2


def test_streamed_and_whole_reads_cut_alike():
    data = os.urandom(40 << 20)
    c = Chunker(256 * 1024, 1 << 20, 8 << 20, seed=7)
    whole = [len(x) for x in c.cut(data)]
    streamed = [len(x) for x in c.cut_file(io.BytesIO(data))]
    assert whole == streamed and sum(whole) == len(data)


def test_seed_changes_boundaries():
    data = os.urandom(16 << 20)
    lens = [[len(x) for x in Chunker(256 * 1024, 1 << 20, 8 << 20, seed=s).cut(data)] for s in (1, 2)]
    assert lens[0] != lens[1]
