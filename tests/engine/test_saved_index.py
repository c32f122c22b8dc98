"""The index saved beside the local state (`engine.local.savedindex`): a run opens it instead of
parsing every index file, and it never says more, or less, than the index files the cache holds."""

from __future__ import annotations

import logging
import mmap
import random

import pytest

import engine.repo.index
from engine.local import savedindex
from engine.local.state import State
from engine.repo.crypto import RECORD_MAC_SIZE
from engine.repo.index import Index, PackInfo, index_plain
from tests.engine.test_index_table import _pack, service_with_files

KEY = bytes(range(32))
Files = dict[str, list[PackInfo]]


@pytest.fixture
def state(tmp_path):
    state = State(tmp_path / "s.sqlite", record_key=KEY)
    yield state
    state.close()


def _files(rnd: random.Random, first: int, count: int) -> Files:
    """Index files of random packs; the last one stores again five blobs of the first."""
    files = {
        f"index/{n:02d}": [_pack(rnd, [rnd.randbytes(32) for _ in range(50)]) for _ in range(3)]
        for n in range(first, first + count)
    }
    names = sorted(files)
    files[names[-1]].append(_pack(rnd, [e.blob_id for e in files[names[0]][0].entries[:5]]))
    return files


def _cache(state: State, files: Files) -> None:
    for name, infos in files.items():
        state.cache_index_file(name, index_plain(infos))


def _loaded(state: State) -> Index:
    index = Index()
    state.load_index(index)
    return index


def _saved_names(state: State) -> frozenset[str] | None:
    saved = savedindex.load(state.path.with_suffix(".index"), state._record_mac())
    return None if saved is None else saved.names


def _says(index: Index, files: Files) -> None:
    """`index` holds exactly the blobs of these index files, each at one of its places, and a blob
    whose pack is lost falls back to its other place."""
    places: dict[bytes, set[tuple]] = {}
    for infos in files.values():
        for info in infos:
            for e in info.entries:
                places.setdefault(e.blob_id, set()).add((info.pack_id, e.offset, e.length))
    assert len(index) == len(places) and set(index.ids()) == set(places)
    assert index.pack_sizes == {info.pack_id: info.size for infos in files.values() for info in infos}
    for blob_id, where in places.items():
        e = index.get(blob_id)
        assert (e.pack_id, e.offset, e.length) in where
    twice = [b for b, where in places.items() if len(where) == 2]
    assert twice
    index.drop_packs({index.get(b).pack_id for b in twice})
    for blob_id in twice:
        e = index.get(blob_id)
        assert e is not None and (e.pack_id, e.offset, e.length) in places[blob_id]


def test_a_run_opens_the_saved_index_not_the_index_files(state):
    files = _files(random.Random(1), 0, 4)
    _cache(state, files)
    _says(_loaded(state), files)  # built from the index files, and saved
    assert _saved_names(state) == set(files)
    _cache(state, {name: [] for name in files})  # the same names, the bodies emptied: they are not read
    _says(_loaded(state), files)


def test_a_saved_index_of_nothing_is_saved_again_once_index_files_came(state):
    """Opened before anything was backed up (a new repository), it names no index file."""
    _loaded(state)
    assert _saved_names(state) == set()
    files = _files(random.Random(7), 0, 2)
    _cache(state, files)
    _says(_loaded(state), files)
    assert _saved_names(state) == set(files)


def test_index_files_written_since_are_added_and_saved_with_it_once_they_are_many(state, monkeypatch):
    rnd = random.Random(2)
    files = _files(rnd, 0, 3)
    _cache(state, files)
    _loaded(state)
    since = _files(rnd, 10, 2)
    _cache(state, since)
    _says(_loaded(state), files | since)
    assert _saved_names(state) == set(files)  # too few blobs since to be worth saving again
    monkeypatch.setattr(engine.repo.index, "COMPACT_AFTER", 100)
    _says(_loaded(state), files | since)
    assert _saved_names(state) == set(files | since)
    _cache(state, {name: [] for name in files | since})
    _says(_loaded(state), files | since)


def test_a_saved_index_is_not_used_once_an_index_file_it_holds_is_gone(state):
    """A prune rewrote the index files: blobs of the old ones that the new ones leave out are
    gone from the destination, and the index must not say they are there."""
    rnd = random.Random(3)
    files = _files(rnd, 0, 4)
    _cache(state, files)
    _loaded(state)
    kept = {"index/00": files["index/00"], "index/20": files["index/03"]}  # a new file for what stays
    state.reset_index_cache()
    _cache(state, kept)
    _says(_loaded(state), kept)
    assert _saved_names(state) == set(kept)


HARMS = ["a record changed", "its head changed", "a length made absurd", "cut short", "emptied"]


@pytest.mark.parametrize("harm", HARMS)
def test_a_saved_index_changed_or_cut_short_is_built_again(state, caplog, harm):
    files = _files(random.Random(4), 0, 3)
    _cache(state, files)
    _loaded(state)
    path = state.path.with_suffix(".index")
    data = bytearray(path.read_bytes())
    if harm == "a record changed":  # the records end the file, before its MAC
        data[-RECORD_MAC_SIZE - 40] ^= 1
    elif harm == "its head changed":  # a length
        data[8] ^= 1
    elif harm == "a length made absurd":  # 2**62 bytes of names: nothing is read for it
        data[15] ^= 0x40
    path.write_bytes(data[: len(data) - 100] if harm == "cut short" else b"" if harm == "emptied" else data)
    with caplog.at_level(logging.WARNING):
        _says(_loaded(state), files)
    assert ("built again" in caplog.text) == (harm != "emptied")  # an empty one: written by a crash, not changed
    assert _saved_names(state) == set(files)  # and saved whole again


def test_the_records_are_mapped_from_the_saved_file_and_a_save_never_changes_a_mapped_one(state):
    """Mapped, they are pages the system can drop and read again, not the process's own memory; a
    save renames a new file into place, so a table opened before reads on the bytes it checked."""
    files = _files(random.Random(7), 0, 3)
    _cache(state, files)
    built, opened = _loaded(state), _loaded(state)
    assert isinstance(built._table.records, mmap.mmap) and isinstance(opened._table.records, mmap.mmap)
    more = _files(random.Random(8), 3, 2)
    _cache(state, more)
    state.path.with_suffix(".index").unlink()  # the next load builds and saves anew
    _says(_loaded(state), files | more)
    _says(opened, files)


def test_only_what_index_files_say_is_ever_saved():
    """Packs not yet named by an index file (a run's, or a killed run's) may never reach the
    destination: a saved index that held them would let a backup count on blobs it never stored."""
    rnd = random.Random(5)
    index = Index()
    index.add_plain(index_plain(_files(rnd, 0, 1)["index/00"]))
    index.packed()
    index.add_pack(_pack(rnd, [rnd.randbytes(32)]), pending=True)
    with pytest.raises(ValueError):
        index.packed()
    index.take_pending()
    with pytest.raises(ValueError):  # its blobs are known, not yet packed in the table
        index.packed()


def test_an_index_that_cannot_be_saved_costs_only_the_speed_up(tmp_path, state):
    files = _files(random.Random(6), 0, 2)
    _cache(state, files)
    (tmp_path / "s.index").mkdir()  # nothing can be written there
    _says(_loaded(state), files)
    _says(_loaded(state), files)


def test_a_backup_that_added_many_blobs_leaves_them_saved_for_the_next_run(tmp_path, monkeypatch, backbeat_home):
    """Else the next run, a no-change backup, would sort them all (0.3 s for 200,000 files)."""
    monkeypatch.setattr(engine.repo.index, "COMPACT_AFTER", 10)
    service, src = service_with_files(tmp_path, 30)
    service.backup([str(src)])
    state = service.session.state
    assert _saved_names(state) == state.loaded_index_files() != set()
    assert service.session.index.settled() and len(service.session.index) > 30  # the files' blobs and trees
    assert service.restore("latest", str(tmp_path / "out")).files == 30
    service.close()
