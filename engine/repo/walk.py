"""Walking a snapshot's trees: every file's content blobs, damage reported per folder.

What check (which blobs do the files need, which files does damage reach), prune (which blobs
does any snapshot need) and the benchmarks share. A folder that appears in several places (a
copy of a project) is one tree: prune visits it once; check and repair, which name the files
damage reaches, visit it in every place (`seen=None`). Restore and forget walk differently: they need
every path in order, or every path once per place it appears. All of them read a folder through
`folder_entries`, one part at a time (a big folder is stored as parts, `engine.repo.tree`).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator

from engine.base.errors import BackbeatError, IntegrityError
from engine.repo.blob import BlobType
from engine.repo.blobstore import BlobStore
from engine.repo.tree import Kind, TreeEntry, decode_tree, split_parts

__all__ = ["walk_trees", "folder_entries"]


def folder_entries(
    store: BlobStore,
    tree_id: bytes,
    seen: set[bytes] | None = None,
    failed: Callable[[BackbeatError], None] | None = None,
    catch: type[BackbeatError] | tuple[type[BackbeatError], ...] = BackbeatError,
) -> Iterator[TreeEntry]:
    """A folder's entries in name order, read one part at a time; each part's id is added to
    `seen` (prune keeps them). A listing that cannot be read (a `catch` error) goes to `failed`,
    which may raise, or is raised when there is none; a damaged part costs only its own entries:
    the parts after it are still read."""
    try:
        data = store.get(BlobType.TREE, tree_id)
        parts = split_parts(data)
        whole = decode_tree(data) if parts is None else []
    except catch as e:
        if failed is None:
            raise
        failed(e)
        return
    yield from whole
    last: bytes | None = None
    for part_id in parts or ():
        if seen is not None:
            seen.add(part_id)
        try:
            entries = decode_tree(store.get(BlobType.TREE, part_id))
            if not entries:
                raise IntegrityError("tree holds an empty part")
            if last is not None and entries[0].name <= last:
                raise IntegrityError(f"tree names are out of order or repeated at {entries[0].name!r}")
        except catch as e:
            if failed is None:
                raise
            failed(e)
            continue
        last = entries[-1].name
        yield from entries


def walk_trees(
    store: BlobStore,
    tree_id: bytes,
    seen: set[bytes] | None,
    uses: Callable[[bytes, bytes], None],
    failed: Callable[[bytes, BackbeatError], None],
    rel: bytes = b"",
    skip: Container[bytes] = frozenset(),
) -> None:
    """Visit `tree_id` and every tree under it not yet in `seen` (each, and each part of a folder
    stored as parts, is added to it; None: every tree in every place it appears); `uses(blob_id,
    path)` for every content blob of a file; `failed(path, error)` for a folder whose tree cannot
    be read (it may raise to stop the walk; a damaged part of a folder is reported and the rest of
    the folder visited). Folders whose tree is in `skip` are not entered (their data is known to be
    elsewhere: on a seed drive on its way). Depth first with a stack, not recursion."""

    def listing(tree: bytes, path: bytes) -> Iterator[TreeEntry]:
        if seen is not None:
            seen.add(tree)
        return folder_entries(store, tree, seen, lambda e: failed(path, e))

    stack = [(rel, listing(tree_id, rel))]
    while stack:
        rel, entries = stack[-1]
        for entry in entries:
            path = rel + b"/" + entry.name if rel else entry.name
            if entry.kind == Kind.DIR:
                if entry.subtree not in skip and (seen is None or entry.subtree not in seen):
                    stack.append((path, listing(entry.subtree, path)))
                    break
            elif entry.kind == Kind.FILE:
                for blob_id in entry.ids:
                    uses(blob_id, path)
        else:
            stack.pop()
