"""Walking a snapshot's trees: every file's content blobs, damage reported per folder.

What check (which blobs do the files need, which files does damage reach), prune (which blobs
does any snapshot need) and the benchmarks share. A folder that appears in several places (a
copy of a project) is one tree: prune visits it once; check and repair, which name the files
damage reaches, visit it in every place (`seen=None`). Restore and forget walk differently: they need
every path in order, or every path once per place it appears.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import BackbeatError
from engine.repo.blob import BlobType
from engine.repo.blobstore import BlobStore
from engine.repo.tree import Kind, decode_tree

__all__ = ["walk_trees"]


def walk_trees(
    store: BlobStore,
    tree_id: bytes,
    seen: set[bytes] | None,
    uses: Callable[[bytes, bytes], None],
    failed: Callable[[bytes, BackbeatError], None],
    rel: bytes = b"",
) -> None:
    """Visit `tree_id` and every tree under it not yet in `seen` (each is added to it; None: every
    tree in every place it appears); `uses(blob_id, path)` for every content blob of a file;
    `failed(path, error)` for a folder whose tree cannot be read (it may raise to stop the walk)."""
    if seen is not None:
        seen.add(tree_id)
    try:
        entries = decode_tree(store.get(BlobType.TREE, tree_id))
    except BackbeatError as e:
        failed(rel, e)
        return
    for entry in entries:
        path = rel + b"/" + entry.name if rel else entry.name
        if entry.kind == Kind.DIR:
            if seen is None or entry.subtree not in seen:
                walk_trees(store, entry.subtree, seen, uses, failed, path)
        elif entry.kind == Kind.FILE:
            for blob_id in entry.ids:
                uses(blob_id, path)
