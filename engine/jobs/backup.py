"""One backup run: scan -> read and chunk -> store blobs -> trees -> index -> snapshot.

Nothing is held per file: the scan is a spool on disk (`engine.local.spool`), read beside the files
cache in the same order, and the files to read, with their records once read, are a work list on
disk (`engine.local.worklist`). Files the files cache vouches for (same device, inode, size, mtime
and ctime, and every blob still indexed) are not read. The rest are read, in the order of
`engine.config.priority` (what protects most goes first), on a pool of threads
(`engine.jobs.reading`). During a long run, checkpoints make what has arrived restorable
(`engine.jobs.checkpoint`); over a network, progress is counted in bytes sent against a forecast
of what is left to send (`engine.meter.forecast`). The snapshot is written last, after every pack
and the index it needs; the files cache after it.
"""

from __future__ import annotations

import os
import socket
import threading
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime

from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.errors import BackbeatError, Problem, UsageError
from engine.base.events import BackupSummary, Checkpoint, EventSink, FileSkipped, Progress
from engine.base.home import app_dir, computer_id
from engine.base.progress import Meter
from engine.base.stop import NEVER, Stop
from engine.config.priority import PrioritySettings, kind_of
from engine.config.settings import CheckpointSettings
from engine.jobs.checkpoint import CheckpointTimer, OpenCheckpoints
from engine.jobs.needs import Needs, require
from engine.jobs.reading import Reading
from engine.jobs.rollback import not_before_latest, remember_latest, snapshot_warnings
from engine.jobs.session import Session, forget_unlisted_packs
from engine.jobs.status import describe_icloud
from engine.jobs.trees import CacheCursor, Records, build_trees
from engine.local import filerecord
from engine.local.outbox import streams_for
from engine.local.scanner import Partial, Scan, scan
from engine.local.spool import CLOUD_ONLY, Tag, meta_mtime_ns, meta_size, tree_key
from engine.local.worklist import Vouched, WorkList
from engine.meter.forecast import Line, TailEstimate, UploadForecast, sample_ratios
from engine.platform import current as platform
from engine.repo.blob import BlobType, seal_blob
from engine.repo.blobstore import BlobStore
from engine.repo.index import PackInfo
from engine.repo.snapshot import Snapshot
from engine.repo.tree import Kind
from engine.repo.walk import folder_entries

__all__ = ["NEEDS", "Scanned", "Scanning", "start_scan", "run_backup", "RunOptions", "access_problems"]

#: a file read this run whose mtime is later than this before the run's start may change again
#: within the same mtime: the files cache does not vouch for it, the next run reads it (`remember`)
_RACY_NS = 2_000_000_000
_TICK = 0.25  # seconds between progress events


#: waits half an hour for a prune (or another computer's exclusive job) before giving up
NEEDS = Needs(
    "backup", lock="shared", lock_wait=1800.0, writes=True, paced=True, recorded=True, queued=True, stoppable=True
)


#: seconds between looks at whether a checkpoint is due
_CHECKPOINT_LOOK = 1.0


@dataclass(frozen=True)
class RunOptions:
    checkpoints: CheckpointSettings | None = CheckpointSettings()
    priority: PrioritySettings = PrioritySettings()
    #: a network destination's line (None for a disk): progress then counts bytes sent
    line: Line | None = None
    #: download a file only in the cloud that no earlier backup holds, read it, free its space again
    fetch_cloud_only: bool = False


class _Run:
    def __init__(self, session: Session, events: EventSink, clock: Clock, workers: int, options: RunOptions) -> None:
        self.session = session
        self.events = events
        self.clock = clock
        self.options = options
        self.skipped: list[FileSkipped] = []
        #: numbers of the files only in the cloud that no earlier backup holds: not in this snapshot
        self.cloud_only: set[int] = set()
        self.cloud_only_bytes = 0
        line, threads = options.line, session.upload_threads
        self.packs = session.outbox.packs(
            self._stored,
            threads,
            (lambda: streams_for(line.outlook().limit, threads)) if line is not None else None,
        )
        self.store = BlobStore(
            session.repo.key, session.index, session.repo.backend, self.packs, session.repo.pack_size
        )
        self.started_ns = clock.wall_ns()
        #: the files to read and, once read, their records: the stat their content matches
        #: (`pack_meta`), then their encoded tree entry. The files cache stores the same records.
        self.work = WorkList(options.priority, self.started_ns)
        self.sent0 = line.sent() if line is not None else 0
        self.checkpoints: OpenCheckpoints | None = None  # set once the scan says which folders
        #: a byte per file number, set once the files cache has its record: each checkpoint and
        #: the run's end remember only the files vouched for since (a week-long first upload makes
        #: hundreds of checkpoints; remembering every file so far at each one was quadratic)
        self.remembered = bytearray()
        self.reading_done = threading.Event()  # checkpoints end; progress to a disk ends
        self.stopping = threading.Event()  # everything is at the destination: progress ends
        self.reading = Reading(session, self.store, self.work, workers, self.report)

    def _stored(self, info: PackInfo) -> None:
        self.store.pack_stored(info)

    def report(self, ev: FileSkipped) -> None:
        self.skipped.append(ev)
        self.events(ev)

    # -- the run -----------------------------------------------------------------------------
    def classify(self, found: Scan) -> int:
        """Put the files to read in the work list; the count of those the files cache vouches for
        (same stat, and every blob still indexed: a prune may have removed some). The spool and
        the cache are read side by side, both in tree order; what the cache holds under the paths
        backed up but the scan did not find is noted as gone."""
        known = self.session.index
        work = self.work
        roots = [(tree_key(p), tree_key(p.rstrip(b"/")) + b"\0") for p in found.paths]

        def gone(key: bytes) -> None:
            if any(key == root or key.startswith(under) for root, under in roots):
                work.gone(key)

        cache = CacheCursor(self.session.state, passed=gone)
        unchanged = 0
        no = -1
        file = Tag.FILE
        for tag, path, meta, extra in found.spool:
            if tag != file:
                continue
            no += 1
            record = cache.seek(path.replace(b"/", b"\0"))  # tree_key, inline: once per file
            if extra == CLOUD_ONLY:  # reading it would download it: carried from the last backup, or left out
                if filerecord.same_file(record, meta, known):
                    unchanged += 1
                    work.keep(no, record)
                elif self.options.fetch_cloud_only:  # the user asked: fetched, read, evicted (engine.jobs.reading)
                    self.reading.fetch.add(no)
                    work.add(no, path, meta_size(meta), meta_mtime_ns(meta), None)
                else:
                    self.cloud_only.add(no)
                    self.cloud_only_bytes += meta_size(meta)
                continue
            if filerecord.vouches(record, meta, known):
                unchanged += 1
                work.keep(no, record)
                continue
            work.add(no, path, meta_size(meta), meta_mtime_ns(meta), record and filerecord.digest(record))
        cache.finish()
        work.seal()
        if self.cloud_only:
            said = describe_icloud(len(self.cloud_only), self.cloud_only_bytes)
            self.report(FileSkipped(os.fsdecode(found.base), said, warning=True))
        return unchanged

    # -- progress and checkpoints, on threads of their own ------------------------------------
    def sent(self) -> int:
        line = self.options.line
        return line.sent() - self.sent0 if line is not None else self.packs.bytes_written

    def start_helpers(self, found: Scan, progress: Meter) -> list[threading.Thread]:
        """The progress reporter (first), and the checkpointer when checkpoints are on."""
        forecast = None
        if self.options.line is not None:
            key = self.session.repo.key
            files = self.work
            ratio_of = sample_ratios(
                files, lambda piece: len(seal_blob(key, key.blob_id(piece), BlobType.DATA, piece)[0]), kind_of
            )
            forecast = UploadForecast(self.clock, TailEstimate(files, ratio_of), progress.bytes_total)
        helpers = [threading.Thread(target=self.report_progress, args=(progress, forecast), name="backbeat-progress")]
        if self.options.checkpoints is not None:
            timer = CheckpointTimer(self.options.checkpoints, self.clock)
            helpers.append(
                threading.Thread(target=self.keep_checkpoints, args=(found, timer), name="backbeat-checkpoint")
            )
        for t in helpers:
            t.start()
        return helpers

    def report_progress(self, progress: Meter, forecast: UploadForecast | None) -> None:
        """Over a network, bytes sent against the forecast; to a disk, bytes read."""
        line = self.options.line
        while True:
            if forecast is None or line is None:
                self.events(progress.event("backing up"))
            else:
                outlook = line.outlook()
                accounted = self.store.data_raw + self.reading.bytes_deduped  # read, and packed or found stored
                forecast.update(
                    accounted, self.store.bytes_packed, self.sent(), outlook.limit, self.reading.bytes_deduped
                )
                eta = forecast.eta(outlook, datetime.fromtimestamp(self.clock.wall()))
                self.events(
                    Progress(
                        "uploading",
                        progress.files_done,
                        progress.files_total,
                        forecast.sent,
                        forecast.total,
                        rate=forecast.rate,
                        eta_seconds=eta,
                        held=outlook.reason if outlook.limit == 0 else "",
                    )
                )
            if self.stopping.wait(_TICK) or (line is None and self.reading_done.is_set()):
                return  # over a network, the last packs' upload is shown to its end

    def keep_checkpoints(self, found: Scan, timer: CheckpointTimer) -> None:
        while not self.reading_done.wait(_CHECKPOINT_LOOK):
            if not timer.due(self.packs.bytes_written):
                continue
            began = self.clock.monotonic()
            try:
                self.checkpoint(found)
            except BackbeatError as e:  # the run itself meets the same trouble and says so
                self.events(FileSkipped("(checkpoint)", f"a checkpoint could not be written: {e}", warning=False))
            timer.done(self.packs.bytes_written, self.clock.monotonic() - began)

    def checkpoint(self, found: Scan) -> None:
        """Make every file whose blobs the destination holds restorable now: send the open packs,
        list the files whose blobs are all there or in packs on their way, send those trees, and
        once the destination confirms every pack handed over so far, save the snapshot."""
        self.store.flush()
        self.work.flush()
        vouched = self.work.vouched()
        coming = self.store.on_the_way()
        tree_id, _dirs, files = self.tree(found, vouched, coming=coming)
        self.store.flush()
        known = self.session.index
        self.packs.drain()  # raises if a pack did not make it: then no checkpoint names it
        while not all(b in known for b in coming):  # a pack finished just before the mark, handed over just after
            self.clock.sleep(0.05)
            self.packs.drain()
        summary = {
            "files": files,
            "bytes_sent": self.sent(),
        } | _selection(found)
        snap = self.snapshot(found, tree_id, summary, checkpoint=True)
        snapshot_id = self.session.outbox.send_snapshot(snap, self.session.index)
        self.open_checkpoints(found).wrote(snapshot_id)
        self.remember(vouched)  # what the destination holds need not be read again if this run is interrupted
        self.events(Checkpoint(snapshot_id, files, self.sent()))

    def remember(self, vouched: Vouched) -> None:
        """Files the cache vouches for from now on (those not given to it earlier in this run);
        and the unsure ones (changed in the run's last moments: they may change again within the
        same mtime) with a blank stat, so the next run reads them again, and finds them the same
        when they are (see store_file)."""
        remembered = self.remembered
        remembered.extend(bytes(max(0, vouched.top + 1 - len(remembered))))
        new = array("q")

        def rows() -> Iterator[tuple[bytes, bytes]]:
            for no, path, record, sure in vouched:
                if not sure:
                    yield tree_key(path), filerecord.unvouched(record)
                elif not remembered[no]:
                    new.append(no)
                    yield tree_key(path), record

        try:
            self.session.state.remember_files(rows())
        finally:
            vouched.close()
        for no in new:
            remembered[no] = 1

    def snapshot(self, found: Scan, tree_id: bytes, summary: dict, checkpoint: bool = False) -> Snapshot:
        return Snapshot(
            time_ns=self.clock.wall_ns() if checkpoint else self.started_ns,
            host=socket.gethostname(),
            computer_id=computer_id(),
            base=os.fsdecode(found.base),
            paths=[os.fsdecode(p) for p in found.paths],
            tree=tree_id.hex(),
            summary=summary,
            skipped=[(s.path, s.reason) for s in self.skipped[:1000]],
            checkpoint=checkpoint,
        )

    def open_checkpoints(self, found: Scan) -> OpenCheckpoints:
        if self.checkpoints is None:
            paths = [os.fsdecode(p) for p in found.paths]
            self.checkpoints = OpenCheckpoints(self.session.state, self.session.repo.backend, paths)
        return self.checkpoints

    def tree(
        self, found: Scan, vouched: Vouched, coming: frozenset[bytes] | None = None, unsure: bool = False
    ) -> tuple[bytes, int, int]:
        """The snapshot's trees (engine.jobs.trees): (root tree id, folders, files)."""
        records = Records(self.work, self.cloud_only)
        racy_ns = self.started_ns - _RACY_NS
        return build_trees(
            found,
            records,
            self.store,
            self.session,
            self.report,
            vouched,
            racy_ns=racy_ns,
            coming=coming,
            unsure=unsure,
        )


def _selection(found: Scan) -> dict[str, int]:
    """What the whole selection holds, recorded in a snapshot for `status` to measure "% backed up"
    against; nothing from a partial scan, which saw only the folders that changed."""
    if found.partial:
        return {}
    return {"selection_files": found.spool.files, "selection_bytes": found.spool.bytes}


@dataclass
class Scanned:
    scan: Scan
    skipped: list[FileSkipped]
    #: only changed folders were listed (the rest comes from the previous snapshot)
    partial: bool = False


def previous_trees(session: Session, snap: Snapshot) -> Callable[[bytes], bytes | None]:
    """path -> the tree id of that folder in `snap` (None when it had no such folder), for partial scans."""
    folders: dict[bytes, bytes | None] = {snap.base_bytes: snap.tree_id}
    listings: dict[bytes, dict[bytes, bytes]] = {}

    def lookup(path: bytes) -> bytes | None:
        if path not in folders:
            parent = os.path.dirname(path)
            parent_id = lookup(parent) if parent != path and path.startswith(snap.base_bytes) else None
            if parent_id is not None and parent_id not in listings:
                entries = folder_entries(session.reader, parent_id)
                listings[parent_id] = {e.name: e.subtree for e in entries if e.kind == Kind.DIR}
            folders[path] = listings[parent_id].get(os.path.basename(path)) if parent_id is not None else None
        return folders[path]

    return lookup


def access_problems() -> list[Problem]:
    """What keeps a backup from reading what the user chose, asked of the system at each run: on a
    Mac without Full Disk Access, Mail, Messages, Safari, Photos and parts of Library cannot be
    read, and a grant cannot be asked for by a prompt (the user switches it on in System Settings)."""
    system = platform()
    if system.full_disk_access() is not False:
        return []
    return [
        Problem(
            "Backbeat cannot read everything you chose: your Mail, Messages, Safari and Photos libraries "
            "and parts of your Library folder are not backed up.",
            "Open System Settings → Privacy & Security → Full Disk Access and switch Backbeat on.",
            link=system.FULL_DISK_ACCESS_SETTINGS,
        )
    ]


class Scanning:
    """A scan under way on a thread of its own (it needs no key, so it runs while the key is
    being derived and the lock taken). Its job waits for it through `result`, which hears the
    job's stop: the scan then ends at its next folder."""

    def __init__(self) -> None:
        self._done: Future[Scanned] = Future()
        self.stop = Stop()

    def result(self, stop: Stop = NEVER) -> Scanned:
        while True:
            if stop.asked:
                self.stop.ask()
                stop.check()
            try:
                return self._done.result(timeout=_TICK)
            except TimeoutError:
                pass


def start_scan(
    sources: list[str],
    excludes: list[str] = (),
    events: EventSink = lambda ev: None,
    partial: Partial | None = None,
) -> Scanning:
    scanning = Scanning()

    def work() -> None:
        skipped: list[FileSkipped] = []

        def report(ev: FileSkipped) -> None:
            skipped.append(ev)
            events(ev)

        try:
            platform().throttle_disk_io()
            for problem in access_problems():
                report(FileSkipped("Full Disk Access", str(problem), warning=True))
            events(Progress("scanning", 0, 0, 0, 0))
            never = [os.fsencode(app_dir())]
            found = scan(list(sources), list(excludes), never, report, partial, scanning.stop)
            scanning._done.set_result(Scanned(found, skipped))
        except BaseException as e:  # noqa: BLE001 - handed to the run's thread
            scanning._done.set_exception(e)

    threading.Thread(target=work, name="backbeat-scan", daemon=True).start()
    return scanning


def run_backup(
    session: Session,
    scanning: Scanning,
    events: EventSink = lambda ev: None,
    clock: Clock = SYSTEM_CLOCK,
    workers: int | None = None,
    options: RunOptions = RunOptions(),
) -> BackupSummary:
    """Call through the runner (`NEEDS`): one backup of a repository at a time on this computer,
    a killed run's outbox delivered first, beside other backups but never beside a prune."""
    require(session, NEEDS)
    for warning in snapshot_warnings(session):
        events(FileSkipped(session.repo.backend.location, warning))
    lost, forgotten = forget_unlisted_packs(session)  # never deduplicate against what is gone
    if lost:
        events(
            FileSkipped(
                session.repo.backend.location,
                f"{lost} pack(s) this backup's index names are not at the destination (lost there, or an "
                f"old index put back): {forgotten} piece(s) of data they held are stored again by this "
                "backup. `backbeat check --repair` tidies the index.",
            )
        )
    return _run_backup(session, scanning, events, clock, workers, options)


def _run_backup(
    session: Session,
    scanning: Scanning,
    events: EventSink,
    clock: Clock,
    workers: int | None,
    options: RunOptions,
) -> BackupSummary:
    t0 = clock.monotonic()
    run = _Run(session, events, clock, workers or min(4, os.cpu_count() or 2), options)
    try:
        return _backup(run, scanning, t0)
    finally:
        run.work.close()


def _backup(run: _Run, scanning: Scanning, t0: float) -> BackupSummary:
    session, clock, events = run.session, run.clock, run.events
    helpers: list[threading.Thread] = []
    scanned: Scanned | None = None
    try:
        scanned = scanning.result(session.stop)  # inside: a failed scan still closes the pack sender
        found = scanned.scan
        run.skipped.extend(scanned.skipped)
        if not found.paths:
            raise UsageError("none of the paths to back up could be read", hint="Check the paths and try again.")
        altered = session.state.altered
        unchanged = run.classify(found)
        if session.state.altered > altered:
            why = "file record(s) were changed by something other than Backbeat: those files were read again"
            run.report(FileSkipped(str(session.state.path), f"{session.state.altered - altered} {why}", warning=True))
        progress = Meter(clock, found.spool.files, run.work.bytes, files_done=unchanged)
        helpers = run.start_helpers(found, progress)
        run.reading.read_all(progress)
        run.reading_done.set()
        for t in helpers[1:]:
            t.join()  # a checkpoint under way ends before the final trees are built
        events(progress.event("finishing"))
        vouched = run.work.vouched()
        root, dirs, _files = run.tree(found, vouched, unsure=True)
        run.store.flush()
    finally:
        run.reading_done.set()
        for t in helpers[1:]:
            if t.is_alive():
                t.join()
        run.reading.close()
        try:
            run.packs.close()
        finally:
            run.stopping.set()
            if helpers and helpers[0].is_alive():
                helpers[0].join()
            if scanned is not None:
                scanned.scan.spool.close()
    summary = BackupSummary(
        snapshot_id="",
        files_new=run.reading.files_new,
        files_changed=run.reading.files_changed,
        files_unchanged=unchanged + run.reading.files_same,
        dirs=dirs,
        bytes_read=run.reading.bytes_read,
        bytes_added=run.packs.bytes_written,
        blobs_added=run.store.new_blobs,
        duration=clock.monotonic() - t0,
        warnings=sum(1 for s in run.skipped if s.warning),
        skipped=tuple(run.skipped),
        cloud_only=len(run.cloud_only) + run.reading.left_in_cloud,
        cloud_only_bytes=run.cloud_only_bytes + run.reading.left_in_cloud_bytes,
        cloud_downloaded=run.reading.fetched,
        photos_in_icloud=found.photos_in_icloud,
        left_out=found.left_out,
    )
    recorded = {k: v for k, v in summary.to_json().items() if k not in ("skipped", "snapshot_id")}
    snap = run.snapshot(found, root, recorded | _selection(found))
    snap.time_ns = not_before_latest(session, snap.time_ns)
    snapshot_id = session.outbox.send_snapshot(snap, session.index)
    run.open_checkpoints(found).fold()  # the final snapshot holds all they did
    remember_latest(session, snap)
    run.remember(vouched)
    if not found.partial:  # a partial scan saw only the changed folders: the files it did not see are not gone
        session.state.forget_files(run.work.unseen())
    session.settle_index()
    return replace(summary, snapshot_id=snapshot_id, duration=clock.monotonic() - t0)
