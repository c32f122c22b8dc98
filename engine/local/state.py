"""This machine's local state for one repository: a SQLite database (WAL) in the app-data folder.

It holds what can be rebuilt but is slow to rebuild: the files cache (path in tree order ->
device, inode, size, mtime, ctime and the file's tree entry, so unchanged files are not re-read), the blob index cache
(the body of every repository index file already loaded; beside it, the index as a packed table,
`engine.local.savedindex`), the pack journal (packs
written during a run but not yet named by an index file, so a run killed midway can recover
them), and the history of runs. Losing this file loses no backup data: a damaged one is moved
aside and started afresh (the index cache then reloads from the destination). The only importer of
`sqlite3`: a restore's and a backup's scratch databases come from here too (`scratch_db`).

The files cache and the index cache decide what a backup does not read or send again, so each of
their rows carries a MAC under a key derived from the repository's (`record_key`): a row changed
by anything but Backbeat is dropped and said, never trusted (the file is read again, the index
file fetched again). A State opened without the key (copying, loading a seed drive) never
touches those two.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Set
from pathlib import Path

from engine.base.errors import LocalDiskFull
from engine.local import filerecord, savedindex
from engine.local.spool import tree_key
from engine.repo.crypto import RECORD_MAC_SIZE, RecordMac
from engine.repo.index import Index

__all__ = ["State", "disk_full_said", "scratch_db"]

_FILES = "CREATE TABLE IF NOT EXISTS files (key BLOB PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;"
_SCHEMA = (
    _FILES
    + """
CREATE TABLE IF NOT EXISTS index_files (name TEXT PRIMARY KEY, plain BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS held (
    destination TEXT NOT NULL, pack BLOB NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (destination, pack));
CREATE TABLE IF NOT EXISTS deleted_index (
    destination TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (destination, name));
CREATE TABLE IF NOT EXISTS pack_journal (pack BLOB PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seeds (
    destination TEXT PRIMARY KEY, drive TEXT NOT NULL, created REAL NOT NULL, objects TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, started_ns INTEGER, finished_ns INTEGER,
    status TEXT, snapshot TEXT, summary TEXT, error TEXT);
"""
)
#: how many runs the history keeps (the app's charts and a support bundle read the newest)
_RUNS_KEPT = 10_000
_SCHEMA_VERSION = "8"  # 7: files and index cache rows carry their MAC; 8: file entries their metadata
#: tables that are only caches: an older schema's are dropped and rebuilt, never migrated (but
#: for v5's files cache: rebuilding it means reading every file again, so it is re-keyed)
_CACHE_TABLES = ("files", "index_files", "blobs", "packs")  # blobs, packs: before v5
_FILES_PAGE = 1024
_NAMES_A_QUERY = 500  # index files asked for by name at once (SQLite allows 32,766 variables)


class _Connection(sqlite3.Connection):
    """A full disk says so in Backbeat's words (LocalDiskFull), not as a database error."""

    def execute(self, *args, **kw):
        with disk_full_said():
            return super().execute(*args, **kw)

    def executemany(self, *args, **kw):
        with disk_full_said():
            return super().executemany(*args, **kw)

    def executescript(self, *args, **kw):
        with disk_full_said():
            return super().executescript(*args, **kw)


@contextlib.contextmanager
def disk_full_said(doing: str = "writing the local records", hint: str | None = None) -> Iterator[None]:
    """SQLite's "database or disk is full" as LocalDiskFull: what was being written, what to do."""
    try:
        yield
    except sqlite3.OperationalError as e:
        if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            raise LocalDiskFull(doing, hint=hint) from e
        raise


def scratch_db() -> sqlite3.Connection:
    """A private database in this computer's temporary folder, which SQLite unlinks as soon as it
    has opened it (nothing is left behind, even after kill -9), written without a journal: the
    scratch of a backup (`engine.local.worklist`) or a restore (`engine.local.restoreplan`). Usable from any
    thread; its user serialises access."""
    db = sqlite3.connect("", check_same_thread=False)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    return db


_log = logging.getLogger(f"backbeat.{__name__}")  # under the product's log: its file, its redaction


class State:
    def __init__(self, path: Path, record_key: bytes | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._saved_index = path.with_suffix(".index")
        #: keyed with the repository's key: the files and index caches' rows carry it (None: no key given)
        self._mac = RecordMac(record_key) if record_key is not None else None
        #: rows of the files cache and index cache found altered (and dropped) since this opened
        self.altered = 0
        self._lock = threading.Lock()
        #: where a damaged database was moved before this one was started afresh (None: it was sound)
        self.set_aside: Path | None = None
        try:
            self._open()
        except sqlite3.DatabaseError as e:
            self._db.close()
            self.set_aside = path.with_name(f"{path.name}.damaged")
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{path}{suffix}")
                if part.exists():
                    part.replace(f"{self.set_aside}{suffix}")
            _log.warning(
                "the local state %s was damaged (%s): moved to %s and rebuilt from the destination "
                "(the next backup reads every file again; it uploads only what the destination lacks)",
                path,
                e,
                self.set_aside,
            )
            self._open()

    def _open(self) -> None:
        """Open and check the database (a damaged one raises sqlite3.DatabaseError)."""
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, factory=_Connection)
        if self._db.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("quick_check failed")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        schema = row[0] if row is not None else _SCHEMA_VERSION
        if schema == "5":
            self._rekey_files()
            schema = "6"
        if schema == "6" and self._mac is not None:
            self._seal_records()
            schema = "7"
        if schema == "7" and self._mac is not None:
            self._describe_files()
            schema = _SCHEMA_VERSION
        elif schema not in ("6", "7", _SCHEMA_VERSION):
            for table in _CACHE_TABLES:
                self._db.execute(f"DROP TABLE IF EXISTS {table}")
            schema = _SCHEMA_VERSION
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (schema,))

    def _rekey_files(self) -> None:
        """v5 keyed the files cache by path; v6 by `tree_key` (so it is read in tree order)."""
        rows = self._db.execute("SELECT path, record FROM files").fetchall()
        self._db.execute("BEGIN")
        self._db.execute("DROP TABLE files")
        self._db.execute(_FILES)
        self._db.executemany("INSERT INTO files VALUES (?, ?)", ((tree_key(p), r) for p, r in rows))
        self._db.execute("COMMIT")

    def _seal_records(self) -> None:
        """v6 rows had no MAC: this computer's own records until now, given one once (reading every
        file again, or fetching every index file, would cost hours on a home line)."""
        self._db.execute("BEGIN")
        for table, key, value in (("files", "key", "record"), ("index_files", "name", "plain")):
            rows = self._db.execute(f"SELECT {key}, {value} FROM {table}").fetchall()
            self._db.executemany(
                f"UPDATE {table} SET {value} = ? WHERE {key} = ?", ((self._sealed(k, v), k) for k, v in rows)
            )
        self._db.execute("COMMIT")

    def _describe_files(self) -> None:
        """v7 entries had no metadata (owner, creation time, flags, hard links): each is given its
        file's, read now without reading the file (`filerecord.upgraded`), so no file is read again."""
        self._db.execute("BEGIN")
        rows = self._db.execute("SELECT key, record FROM files").fetchall()
        upgraded = []
        for key, stored in rows:
            record = self._opened(key, stored)
            if record is not None:
                record = filerecord.upgraded(key.replace(b"\0", b"/"), record)
                upgraded.append((self._sealed(key, record), key))
        self._db.execute("DELETE FROM files")
        self._db.executemany("INSERT INTO files (record, key) VALUES (?, ?)", upgraded)
        self._db.execute("COMMIT")

    # -- rows with their MAC -------------------------------------------------------------------
    def _record_mac(self) -> RecordMac:
        if self._mac is None:
            raise RuntimeError("the files and index caches need the repository's key")
        return self._mac

    def _tag(self, key: bytes | str, value: bytes) -> bytes:
        return self._record_mac().record(key.encode() if isinstance(key, str) else key, value)

    def _sealed(self, key: bytes | str, value: bytes) -> bytes:
        return bytes(value) + self._tag(key, value)

    def _opened(self, key: bytes | str, stored: bytes) -> bytes | None:
        """The value of a row, None (and said once) when its MAC does not match."""
        value = stored[:-RECORD_MAC_SIZE]
        if len(stored) >= RECORD_MAC_SIZE and self._tag(key, value) == stored[-RECORD_MAC_SIZE:]:
            return value
        self.altered += 1
        if self.altered == 1:
            _log.warning(
                "a record in %s was changed by something other than Backbeat: it is not trusted (the file is "
                "read again, or the index file fetched again)",
                self.path,
            )
        return None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Every query holds the lock: one connection serves the app's threads at once, and SQLite
        crashes when a cursor is used while another thread writes or closes."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _tx(self, sql: str, rows: Iterable[tuple]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- files cache -----------------------------------------------------------------------
    def cached_files(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, record) of every file a backup recorded (the record is opaque here: `engine.jobs.backup`
        defines it), in key order, a page at a time: a run reads them beside its scan as two
        sorted streams, far cheaper than a query per file, and holds one page. An altered row is
        left out (its file is then read again)."""
        after = b""
        while page := self._read(
            "SELECT key, record FROM files WHERE key > ? ORDER BY key LIMIT ?", (after, _FILES_PAGE)
        ):
            for key, stored in page:
                record = self._opened(key, stored)
                if record is not None:
                    yield key, record
            after = page[-1][0]

    def cached_file(self, key: bytes) -> bytes | None:
        rows = self._read("SELECT record FROM files WHERE key = ?", (key,))
        return self._opened(key, rows[0][0]) if rows else None

    def remember_files(self, rows: Iterable[tuple[bytes, bytes]]) -> None:
        """Record (key, record) pairs (`engine.local.spool.tree_key` of the path); an unchanged file's
        row is left as it is."""
        self._tx("INSERT OR REPLACE INTO files VALUES (?, ?)", ((k, self._sealed(k, r)) for k, r in rows))

    def forget_files(self, keys: Iterable[bytes]) -> None:
        """Files deleted or excluded since they were recorded."""
        self._tx("DELETE FROM files WHERE key = ?", ((k,) for k in keys))

    # -- checkpoints not yet folded away --------------------------------------------------
    def open_checkpoints(self) -> dict[str, list[str]]:
        """snapshot id -> the paths it covers, for this machine's checkpoints still in the repository."""
        row = next(iter(self._read("SELECT value FROM meta WHERE key='checkpoints'")), None)
        return json.loads(row[0]) if row else {}

    def set_open_checkpoints(self, doc: dict[str, list[str]]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('checkpoints', ?)", (json.dumps(doc),))

    # -- the newest snapshot this machine wrote to each destination -------------------------
    def latest_snapshot(self, destination: str) -> tuple[str, int] | None:
        """(id, time in ns) of the newest complete snapshot this machine wrote there."""
        row = next(iter(self._read("SELECT value FROM meta WHERE key=?", (f"latest {destination}",))), None)
        if row is None:
            return None
        snapshot_id, _, time_ns = row[0].partition(" ")
        return snapshot_id, int(time_ns or 0)

    def set_latest_snapshot(self, destination: str, snapshot_id: str, time_ns: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"latest {destination}", f"{snapshot_id} {time_ns}")
            )

    def seen_snapshots(self, destination: str) -> set[str]:
        row = next(iter(self._read("SELECT value FROM meta WHERE key=?", (f"seen {destination}",))), None)
        return set(json.loads(row[0])) if row else set()

    def set_seen_snapshots(self, destination: str, ids: set[str]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"seen {destination}", json.dumps(sorted(ids)))
            )

    # -- the repository's config as this computer has seen it ---------------------------------
    def config_seen(self) -> str | None:
        """`mac` once this computer has opened the repository with an authenticated config,
        `none` when it has used it without one (made before configs had one), None never."""
        row = next(iter(self._read("SELECT value FROM meta WHERE key='config'")), None)
        return row[0] if row else None

    def set_config_seen(self, how: str) -> None:
        if self.config_seen() != how:
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('config', ?)", (how,))

    # -- automatic clean-up ------------------------------------------------------------------
    def last_cleanup(self) -> float | None:
        """Wall time of the last automatic forget and prune, None before the first."""
        row = next(iter(self._read("SELECT value FROM meta WHERE key='last_cleanup'")), None)
        return float(row[0]) if row else None

    def set_last_cleanup(self, when: float) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('last_cleanup', ?)", (repr(when),))

    # -- index files this computer deleted ---------------------------------------------------
    def deleted_index_files(self, destination: str) -> set[str]:
        return {r[0] for r in self._read("SELECT name FROM deleted_index WHERE destination = ?", (destination,))}

    def record_deleted_index_files(self, destination: str, names: Iterable[str]) -> None:
        self._tx("INSERT OR IGNORE INTO deleted_index VALUES (?, ?)", ((destination, n) for n in names))

    # -- blob index cache ------------------------------------------------------------------
    def loaded_index_files(self) -> set[str]:
        return {r[0] for r in self._read("SELECT name FROM index_files")}

    def drop_altered_index_files(self) -> None:
        """Forget cached index files whose row was altered: they are fetched again."""
        altered = [
            name
            for name, stored in self._read("SELECT name, plain FROM index_files")
            if self._opened(name, stored) is None
        ]
        self._tx("DELETE FROM index_files WHERE name = ?", ((n,) for n in altered))

    def cache_index_file(self, name: str, plain: bytes) -> None:
        """`plain`: the index file's body (`engine.repo.index.index_plain`)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO index_files VALUES (?, ?)", (name, self._sealed(name, plain)))

    def reset_index_cache(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM index_files")

    def load_index(self, index: Index) -> None:
        """An empty index from the saved one (engine.local.savedindex) and the index files it does
        not hold; from every index file when it holds one the cache no longer has, saving it anew
        for the next run. Saved anew too when what it added went into the table (it held nothing, or
        the additions were worth a compaction); the index then holds the records it saved as mapped
        from there."""
        names = self.loaded_index_files()
        index.files |= names
        saved = savedindex.load(self._saved_index, self._record_mac())
        if saved is not None and not saved.names <= names:
            saved = None  # a prune rewrote the index files
        if saved is not None:
            index.add_packed(saved.packed)
        held = saved.names if saved is not None else frozenset()
        loaded = self._index_bodies(names - held)
        index.add_plain(*loaded.values())
        index.compact()  # once worth it: then all of it is saved again
        if (saved is None or loaded) and index.settled():
            records = savedindex.save(self._saved_index, self._record_mac(), held | loaded.keys(), index.packed())
            if records is not None:
                index.hold_records(records)

    def _index_bodies(self, names: Set[str]) -> dict[str, bytes]:
        """The cached bodies of these index files (an altered row is left out: it is fetched again)."""
        bodies, names = {}, sorted(names)
        for at in range(0, len(names), _NAMES_A_QUERY):
            asked = names[at : at + _NAMES_A_QUERY]
            query = f"SELECT name, plain FROM index_files WHERE name IN ({','.join('?' * len(asked))})"
            rows = self._read(query, tuple(asked))
            while rows:  # each row dropped once opened: the bodies are held once, not twice
                name, stored = rows.pop()
                plain = self._opened(name, stored)
                if plain is not None:
                    bodies[name] = plain
        return bodies

    # -- seed drives waiting to be loaded ---------------------------------------------------
    def record_seed(self, destination: str, drive: str, created: float, objects: dict[str, list]) -> None:
        """A seed exported for `destination`: until reconciled, its objects count as on their way there."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO seeds VALUES (?, ?, ?, ?)", (destination, drive, created, json.dumps(objects))
            )

    def pending_seed(self, destination: str) -> dict | None:
        """{"drive", "created", "objects": {name: [size, blake3]}} or None."""
        rows = self._read("SELECT drive, created, objects FROM seeds WHERE destination=?", (destination,))
        row = rows[0] if rows else None
        return None if row is None else {"drive": row[0], "created": row[1], "objects": json.loads(row[2])}

    def clear_seed(self, destination: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM seeds WHERE destination=?", (destination,))

    # -- what each destination holds --------------------------------------------------------
    def record_held(self, destination: str, pack_id: bytes, size: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO held VALUES (?, ?, ?)", (destination, pack_id, size))

    def set_held(self, destination: str, packs: dict[bytes, int]) -> None:
        """Replace what `destination` is known to hold with a fresh listing of it, in one transaction:
        two threads replacing it at once (the app's status beside a reconcile) each leave a whole listing."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM held WHERE destination=?", (destination,))
                self._db.executemany(
                    "INSERT OR REPLACE INTO held VALUES (?, ?, ?)", ((destination, p, s) for p, s in packs.items())
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def held(self, destination: str) -> dict[bytes, int]:
        return dict(self._read("SELECT pack, size FROM held WHERE destination=?", (destination,)))

    def destinations(self) -> list[str]:
        return [r[0] for r in self._read("SELECT DISTINCT destination FROM held ORDER BY destination")]

    # -- pack journal ----------------------------------------------------------------------
    def journal_pack(self, pack_id: bytes) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO pack_journal VALUES (?, 'written')", (pack_id,))

    def journaled_packs(self) -> list[bytes]:
        return [r[0] for r in self._read("SELECT pack FROM pack_journal")]

    def clear_journal(self, packs: Iterable[bytes]) -> None:
        self._tx("DELETE FROM pack_journal WHERE pack=?", ((p,) for p in packs))

    # -- history ---------------------------------------------------------------------------
    def start_run(self, kind: str, started_ns: int) -> int:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO runs (kind, started_ns, status) VALUES (?, ?, 'running')", (kind, started_ns)
            )
            return int(cur.lastrowid or 0)

    def finish_run(
        self, run_id: int, finished_ns: int, status: str, snapshot: str | None, summary: dict, error: str | None
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET finished_ns=?, status=?, snapshot=?, summary=?, error=? WHERE id=?",
                (finished_ns, status, snapshot, json.dumps(summary), error, run_id),
            )
            # the newest runs only: continuous backup records one per change, for years
            self._db.execute("DELETE FROM runs WHERE id <= ?", (run_id - _RUNS_KEPT,))

    def last_problem(self) -> str | None:
        """The error of the latest run, in plain words with what to do, unless a run succeeded since."""
        for run in self.runs(20):
            if run["status"] == "failed":
                return run["error"]
            if run["status"] in ("ok", "warnings"):
                return None
        return None

    def last_success(self, kind: str) -> float | None:
        """Wall time (seconds) the newest run of `kind` that did its job ended, as far as the
        history reaches; None when it holds none."""
        rows = self._read("SELECT MAX(finished_ns) FROM runs WHERE kind=? AND status IN ('ok', 'warnings')", (kind,))
        return rows[0][0] / 1e9 if rows and rows[0][0] is not None else None

    def runs(self, limit: int = 50) -> Iterator[dict]:
        cur = self._read(
            "SELECT id, kind, started_ns, finished_ns, status, snapshot, summary, error FROM runs "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        for rid, kind, started, finished, status, snap, summary, error in cur:
            yield {
                "id": rid,
                "kind": kind,
                "started_ns": started,
                "finished_ns": finished,
                "status": status,
                "snapshot": snap,
                "summary": json.loads(summary) if summary else {},
                "error": error,
            }
