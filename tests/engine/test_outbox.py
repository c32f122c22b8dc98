"""The outbox keeps the repository's order whoever calls it: a pack, then the index file naming it,
then the snapshot naming both (engine.local.outbox)."""

import os
import threading

import pytest

from engine.backends.local import LocalBackend
from engine.base.errors import LockLost
from engine.jobs.session import Session, open_session
from engine.local.outbox import PackSender
from engine.repo.blob import BlobType
from engine.repo.blobstore import BlobStore
from engine.repo.repository import Repository
from engine.repo.snapshot import Snapshot, load_snapshots

PASSWORD = "correct horse"


class _SlowLine(LocalBackend):
    """A real folder whose pack uploads wait until the test lets them through, as on a slow line."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.sending = threading.Event()
        self.through = threading.Event()

    def put_file(self, name: str, path: str) -> None:
        self.sending.set()
        assert self.through.wait(10)
        super().put_file(name, path)


def _snapshot(tree: bytes) -> Snapshot:
    return Snapshot(time_ns=1, host="h", computer_id="c", base="/", paths=["/"], tree=tree.hex())


def _one_pack(backend: LocalBackend) -> tuple[Session, PackSender, bytes]:
    """A session on a new repository there, and a pack of one tree blob handed to its outbox."""
    Repository.create(backend, PASSWORD)
    session = open_session(backend, PASSWORD)
    sender = session.outbox.packs(lambda info: store.pack_stored(info))
    store = BlobStore(session.repo.key, session.index, backend, sender, session.repo.pack_size)
    blob_id = store.put(BlobType.TREE, os.urandom(2000))
    store.flush()
    return session, sender, blob_id


def test_a_snapshot_reaches_the_destination_only_after_its_packs_and_their_index_file(tmp_path):
    backend = _SlowLine(tmp_path / "repo")
    session, sender, blob_id = _one_pack(backend)
    assert backend.sending.wait(10)  # the pack is on its way, not there

    written: list[str] = []
    writer = threading.Thread(
        target=lambda: written.append(session.outbox.send_snapshot(_snapshot(blob_id), session.index))
    )
    writer.start()
    writer.join(0.5)
    assert writer.is_alive()
    assert backend.list("snapshots/") == [] and backend.list("index/") == []

    backend.through.set()
    writer.join(10)
    sender.close()
    assert [s.id for s in load_snapshots(backend, session.repo.key)] == written
    again = open_session(backend, PASSWORD)  # a reader elsewhere: the index file names the pack
    assert blob_id in again.index and again.index.files == session.index.files != set()
    assert not again.index.has_pending()


def test_no_index_file_or_snapshot_is_written_once_the_jobs_lock_is_broken(tmp_path):
    backend = LocalBackend(tmp_path / "repo")
    session, sender, blob_id = _one_pack(backend)
    with session.locked("backup"):
        sender.close()
        for name in backend.list("locks/"):
            backend.delete(name)  # another computer broke it (`backbeat unlock`)
        with pytest.raises(LockLost):
            session.outbox.send_snapshot(_snapshot(blob_id), session.index)
    assert backend.list("snapshots/") == [] and backend.list("index/") == []
    assert session.index.has_pending()  # named by the next run's index file, never lost
