"""A repository in a local folder (an internal disk, a USB drive, a seed drive).

Writes go to a temporary file in the same folder, are fsynced, then renamed over the real
name, and the folder is fsynced: after a crash or a pulled cable an object is whole or absent.
Leftover `*.tmp` files from an interrupted write are ignored by `list` and are harmless.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from engine.backends.base import check_object_name, repository_names
from engine.base.errors import BackendError, DestinationFull, ObjectNotFound

__all__ = ["LocalBackend"]

_TMP = ".tmp"


class LocalBackend:
    is_network = False

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        self.location = str(self.root)

    def _path(self, name: str) -> Path:
        """The file of object `name`, refused unless `name` is a repository object's (a name that
        came from another destination, a copy's source say, never reaches outside the folder)."""
        return self.root / check_object_name(name, self.location)

    def exists(self) -> bool:
        return (self.root / "config").is_file()

    def put(self, name: str, data: bytes | memoryview) -> None:
        def write(fd: int) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]

        self._write_via_tmp(name, write)

    def _make_parent(self, path: Path, name: str) -> None:
        """Folders inside the repository are made as needed, the repository's own folder only by what
        `init` writes (keys, config): a drive that was pulled out must fail, not be re-created on the
        computer's disk at the drive's mount point."""
        if not (name == "config" or name.startswith("keys/")) and not self.root.is_dir():
            raise BackendError(f"{self.location} is not reachable", hint=_MISSING_HINT)
        path.parent.mkdir(parents=True, exist_ok=True)

    def put_file(self, name: str, path: str) -> None:
        """Same file system: a rename (no copy). Another one (a USB drive): a streamed copy."""
        dest = self._path(name)
        try:
            self._make_parent(dest, name)
            os.replace(path, dest)
            _fsync_dir(dest.parent)
            return
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise _translate(e, self.location) from e

        def copy(fd: int) -> None:
            with open(path, "rb") as src:
                while block := src.read(1 << 20):
                    os.write(fd, block)

        self._write_via_tmp(name, copy)

    def _write_via_tmp(self, name: str, write) -> None:
        path = self._path(name)
        tmp = path.with_name(f"{path.name}.{os.getpid()}{_TMP}")
        try:
            self._make_parent(path, name)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                write(fd)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise _translate(e, self.location) from e

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        try:
            with open(self._path(name), "rb") as f:
                if offset < 0:
                    f.seek(offset, os.SEEK_END)
                elif offset:
                    f.seek(offset)
                return f.read() if length is None else f.read(length)
        except FileNotFoundError:
            raise ObjectNotFound(name) from None
        except OSError as e:
            raise _translate(e, self.location) from e

    def size(self, name: str) -> int:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFound(name) from None

    def list_sizes(self, prefix: str) -> dict[str, int]:
        return {name: self.size(name) for name in self.list(prefix)}

    def list_md5(self, prefix: str) -> dict[str, str]:
        return {}  # a folder keeps no checksums: reading a file is what checks it

    def list(self, prefix: str) -> list[str]:
        """Repository objects under `prefix` (a folder of the repository: `data/`, `keys/`…)."""
        base = self.root / prefix
        if not base.is_dir():
            if not self.root.is_dir():
                raise BackendError(f"{self.location} is not reachable", hint=_MISSING_HINT)
            return []
        out = []
        for dirpath, _dirs, files in os.walk(base):
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            out.extend(f"{rel}/{f}" if rel != "." else f for f in files if not f.endswith(_TMP))
        return sorted(repository_names(dict.fromkeys(out, 0), self.location))

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            raise ObjectNotFound(name) from None


_MISSING_HINT = "Connect the drive (or check the folder's path), then run the command again: it resumes."


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _translate(e: OSError, location: str) -> Exception:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return DestinationFull(location)
    if e.errno in (errno.ENOENT, errno.ENODEV, errno.EIO, errno.ENXIO):
        return BackendError(f"{location} is not reachable ({e.strerror})", hint=_MISSING_HINT)
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return BackendError(
            f"cannot write to {location} ({e.strerror})",
            hint="Make the folder writable for your user (or choose another one).",
        )
    return BackendError(f"{location}: {e.strerror or e}")
