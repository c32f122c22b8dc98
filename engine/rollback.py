"""A destination that went back in time, or lost snapshot records: said, never silently accepted.

A server (or whoever restored its disk from an older copy) can present an older but perfectly
authentic set of snapshots; nothing in the repository can tell. This computer can: it remembers
the newest complete snapshot it wrote to each destination (retention never deletes a computer's
newest backup of its folders, so that one missing means a rollback or tampering), and the
snapshots it saw there last time (one gone may be another computer's clean-up: said once).
"""

from __future__ import annotations

from engine.session import Session

__all__ = ["forget_seen", "remember_latest", "remember_listing", "snapshot_warnings"]


def _listed(session: Session) -> set[str]:
    return {name.rsplit("/", 1)[-1] for name in session.repo.backend.list("snapshots/")}


def remember_listing(session: Session) -> None:
    """After this computer changed the snapshot list itself (a backup, forget or repair)."""
    session.state.set_seen_snapshots(session.repo.backend.location, _listed(session))


def forget_seen(session: Session, ids: set[str]) -> None:
    """Snapshots this computer's own forget deleted: gone on purpose, nothing to warn about."""
    location = session.repo.backend.location
    session.state.set_seen_snapshots(location, session.state.seen_snapshots(location) - ids)


def remember_latest(session: Session, snapshot_id: str) -> None:
    session.state.set_latest_snapshot(session.repo.backend.location, snapshot_id)
    remember_listing(session)


def snapshot_warnings(session: Session) -> list[str]:
    """Plain-language warnings about snapshots gone since this computer last looked; what is
    listed now becomes what was seen (the newest own backup is asked for until a new one exists)."""
    location, state = session.repo.backend.location, session.state
    listed = _listed(session)
    warnings = []
    latest = state.latest_snapshot(location)
    if latest is not None and latest not in listed:
        warnings.append(
            f"{location} no longer holds the newest backup this computer made (snapshot {latest[:8]}): "
            "it may have been put back to an older copy, or backups were deleted there. What changed since "
            "that older copy is not at the destination; the next backup stores it again. If you did not "
            "expect this, ask your storage provider what happened."
        )
    gone = sorted(state.seen_snapshots(location) - listed - {latest})
    if gone:
        named = ", ".join(g[:8] for g in gone[:5]) + (" …" if len(gone) > 5 else "")
        warnings.append(
            f"{len(gone)} snapshot(s) this computer saw at {location} are gone ({named}): removed by a "
            "clean-up on another computer, or lost by the destination."
        )
    state.set_seen_snapshots(location, listed)
    return warnings
