"""The index's packed table (`engine.repo.blobtable`) behind `Index`: whatever mix of adds,
removals, lost packs and compactions, the index answers exactly as a plain dict would."""

import gc
import mmap
import os
import random
import threading
import weakref
from pathlib import Path

import pytest

import engine.repo.index
from engine.repo.blob import BlobType, Compression
from engine.repo.blobtable import BlobTable
from engine.repo.index import Index, PackInfo, index_plain
from engine.repo.pack import PackEntry
from engine.service import BackupService
from tests.conftest import PASSWORD, eventually


def _pack(rnd: random.Random, ids: list[bytes]) -> PackInfo:
    entries = [
        PackEntry(b, BlobType.DATA, Compression.ZSTD, i * 100, 100, rnd.randrange(1, 1 << 20))
        for i, b in enumerate(ids)
    ]
    return PackInfo(rnd.randbytes(32), len(ids) * 100, entries)


def _same(index: Index, model: dict[bytes, tuple], others: list[bytes]) -> None:
    absent = [b for b in others if b not in model]
    assert len(index) == len(model)
    assert {b: tuple(e) for b, e in index.entries()} == model
    assert {b for b, _ in index.entries(BlobType.DATA)} == set(model) and not any(index.entries(BlobType.TREE))
    assert set(index.ids()) == set(model) and len(index.ids()) == len(model)
    for blob_id, entry in model.items():
        assert blob_id in index and tuple(index.get(blob_id)) == entry
    for blob_id in absent:
        assert blob_id not in index and index.get(blob_id) is None
    assert (set(absent) | set(list(model)[:5])) - index.ids() == set(absent)  # set operations work


def _loaded_first(rnd: random.Random, index: Index, crowded: list[bytes], places: dict) -> list[PackInfo]:
    """An empty index loaded from index files (straight into its table), some blobs in two or
    three packs, and a pack named by two files; `places` told where each blob is."""
    ids = list(dict.fromkeys(crowded + [rnd.randbytes(32) for _ in range(600)]))
    packs = [_pack(rnd, rnd.sample(ids, rnd.randrange(1, 300))) for _ in range(6)]
    index.add_plain(index_plain(packs[:4]), index_plain(packs[2:]))
    for info in packs:
        for e in info.entries:
            place = (info.pack_id, e.type, e.compression, e.offset, e.length, e.raw_length)
            if place not in places.setdefault(e.blob_id, []):
                places[e.blob_id].append(place)
    for blob_id, where in places.items():  # the index gives one of its places first
        where.insert(0, where.pop(where.index(tuple(index.get(blob_id)))))
    return packs


@pytest.mark.parametrize("seed", range(6))
def test_the_index_answers_as_a_dict_through_adds_removals_lost_packs_and_compactions(seed):
    rnd = random.Random(seed)
    index, packs = Index(), []
    places: dict[bytes, list[tuple]] = {}  # blob id -> every place the index knows, the one it gives first
    # ids that share their first bytes (one bucket) and ids that differ only at the end
    crowded = [bytes([7, 7, 7]) + rnd.randbytes(29) for _ in range(40)] + [bytes(31) + bytes([i]) for i in range(20)]
    if seed % 2:
        packs = _loaded_first(rnd, index, crowded, places)
        _same(index, {b: where[0] for b, where in places.items()}, [rnd.randbytes(32) for _ in range(50)] + crowded)
    for step in range(60):
        action = rnd.random()
        if action < 0.45:  # a new pack: new blobs, and some stored again (another place for them)
            count = rnd.randrange(1, 400)
            fresh = [rnd.choice(crowded) if rnd.random() < 0.2 else rnd.randbytes(32) for _ in range(count)]
            again = rnd.sample(sorted(places), min(len(places), rnd.randrange(0, 5)))
            info = _pack(rnd, list(dict.fromkeys(fresh + again)))
            index.add_pack(info, pending=False)
            packs.append(info)
            for e in info.entries:
                places.setdefault(e.blob_id, []).insert(
                    0, (info.pack_id, e.type, e.compression, e.offset, e.length, e.raw_length)
                )
        elif action < 0.6 and places:  # removed (a prune)
            gone = rnd.sample(sorted(places), min(len(places), rnd.randrange(1, 30)))
            index.discard(gone)
            for blob_id in gone:
                del places[blob_id]
        elif action < 0.7 and packs:  # a pack lost at the destination: its blobs fall back or go
            lost = packs.pop(rnd.randrange(len(packs))).pack_id
            index.drop_packs({lost})
            for blob_id in [b for b, where in places.items() if any(w[0] == lost for w in where)]:
                left = [w for w in places[blob_id] if w[0] != lost]
                if places[blob_id][0][0] == lost and left:  # it falls back to one of the others
                    assert tuple(index.get(blob_id)) in left
                    left.remove(tuple(index.get(blob_id)))
                    left.insert(0, tuple(index.get(blob_id)))
                if left:
                    places[blob_id] = left
                else:
                    del places[blob_id]
        else:
            index.compact(at_least=rnd.choice([1, 50, 10_000]))
        if step % 10 == 0 or step == 59:
            _same(index, {b: where[0] for b, where in places.items()}, [rnd.randbytes(32) for _ in range(50)] + crowded)
    index.compact(at_least=1)
    _same(index, {b: where[0] for b, where in places.items()}, [rnd.randbytes(32) for _ in range(50)] + crowded)


def test_the_table_finds_each_id_in_its_place_and_no_match_across_two_ids():
    ids = sorted({os.urandom(32) for _ in range(5000)} | {bytes(32), b"\xff" * 32})
    table = BlobTable(b"".join(b + i.to_bytes(4, "little") for i, b in enumerate(ids)), 4)
    for i, blob_id in enumerate(ids):
        assert table.find(blob_id) == i and table.location(i) == i.to_bytes(4, "little")
    straddling = ids[10][16:] + ids[11][:16]  # the end of one id and the start of the next
    assert table.find(straddling) == -1 or ids[table.find(straddling)] == straddling
    assert [b for b, _ in table.items()] == ids


def test_compacting_packs_the_index_into_about_fifty_bytes_a_blob():
    index, rnd = Index(), random.Random(1)
    for _ in range(100):
        index.add_pack(_pack(rnd, [rnd.randbytes(32) for _ in range(500)]), pending=False)
    assert index.compact()
    table = index._table
    per_blob = (len(table.records) + table.directory.itemsize * len(table.directory)) / len(index)
    assert len(index) == 50_000 and per_blob < 52


def service_with_files(tmp_path: Path, files: int) -> tuple[BackupService, Path]:
    """A service unlocked on a new repository, and a folder (`src`) of `files` small random files."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(files):
        (src / f"f{i}").write_bytes(os.urandom(5000))
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    return service, src


def _watched(tmp_path, until, before=lambda service: None):
    """A service whose watch protected 20 small files until `until(service, runs)` held (or 30 s
    passed), then stopped; `before(service)` is called before the watch starts."""
    service, src = service_with_files(tmp_path, 20)
    before(service)
    stop, runs = threading.Event(), []
    thread = threading.Thread(target=service.scheduler([str(src)], [], runs.append).run, args=(stop,), daemon=True)
    thread.start()
    eventually(lambda: until(service, runs), 30)
    stop.set()
    thread.join(10)
    return service, runs


def test_the_apps_watch_holds_what_its_backups_added_in_its_table(tmp_path, monkeypatch, backbeat_home):
    monkeypatch.setattr(engine.repo.index, "COMPACT_AFTER", 1)
    added = tmp_path / "src" / "added later"

    def packed_after_a_change(service, runs):
        """The first run's blobs, and a later run's: each backup leaves them packed as it ends."""
        if runs and not added.exists():
            added.write_bytes(os.urandom(5000))
        return len(runs) > 1 and not service.session.index._recent

    service, runs = _watched(tmp_path, packed_after_a_change)
    index = service.session.index
    assert not index.compact(at_least=1)  # nothing left to pack
    assert len(index._table) == len(index) > 20  # every blob in the table: the files' and the trees'
    restored = service.restore("latest", str(tmp_path / "out"))  # read through the table
    assert restored.files == 21 and restored.failed == ()
    service.close()


def test_the_watch_lets_the_index_it_replaces_go(tmp_path, backbeat_home):
    """After its first full run the watch reloads its session (a fresh, compact index); the old one,
    and its index, must go: nothing may hold it (a name in a running frame kept 290 MiB for the
    story's home, for as long as the app ran)."""
    first, gone = [], []

    def the_first_is_gone(service, runs):  # looked at while the watch runs
        gc.collect()
        gone.append(bool(runs) and first[0]() is None)
        return gone[-1]

    def keep_a_weak_reference(service):
        first.append(weakref.ref(service.session.index))

    service, runs = _watched(tmp_path, the_first_is_gone, keep_a_weak_reference)
    assert runs and gone[-1] and service.session.index is not None
    service.close()


def _mapped_resident(path: Path) -> int:
    """kB of the file at `path` mapped into this process and resident (Linux's /proc/self/smaps)."""
    resident, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if len(head) > 1 and "-" in head[0]:  # a mapping's first line: its range, ..., its file
            inside = len(head) == 6 and head[5].removesuffix(" (deleted)") == str(path)
        elif inside and head[0] == "Rss:":
            resident += int(head[1])
    return resident


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="Linux's account of mapped pages")
def test_at_idle_the_watch_hands_the_pages_of_its_mapped_index_back(tmp_path, backbeat_home):
    """Lookups map the saved index's pages into the app (64 KiB around each); idle, it keeps none."""
    touched = []

    def released_after_lookups(service, runs):
        index = service.session.index
        if not runs or not isinstance(index._table.records, mmap.mmap):
            return False
        saved = service.session.state.path.with_suffix(".index")
        if not touched:
            assert all(blob_id in index for blob_id in list(index.ids()))
            touched.append(_mapped_resident(saved))
        return _mapped_resident(saved) == 0

    service, runs = _watched(tmp_path, released_after_lookups)
    assert touched and touched[0] > 0
    assert _mapped_resident(service.session.state.path.with_suffix(".index")) == 0
    assert service.restore("latest", str(tmp_path / "out")).files == 20  # its pages read in again
    service.close()
