"""A destination that went back in time, or lost snapshot records: said, never silently accepted.

A server (or whoever restored its disk from an older copy) can present an older but perfectly
authentic set of snapshots; nothing in the repository can tell. This computer can: it remembers
the newest complete snapshot it wrote to each destination (retention never deletes a computer's
newest backup of its folders, so that one missing means a rollback or tampering), and the
snapshots it saw there last time (one gone may be another computer's clean-up: said once).
"""

from __future__ import annotations

from engine.jobs.session import Session
from engine.repo.snapshot import Snapshot

__all__ = [
    "forget_seen",
    "newest_missing",
    "not_before_latest",
    "remember_latest",
    "remember_listing",
    "snapshot_warnings",
]


def _listed(session: Session) -> set[str]:
    return {name.rsplit("/", 1)[-1] for name in session.repo.backend.list("snapshots/")}


def remember_listing(session: Session) -> None:
    """After this computer changed the snapshot list itself (a backup, forget or repair)."""
    session.state.set_seen_snapshots(session.repo.backend.location, _listed(session))


def forget_seen(session: Session, ids: set[str]) -> None:
    """Snapshots this computer's own forget deleted: gone on purpose, nothing to warn about."""
    location = session.repo.backend.location
    session.state.set_seen_snapshots(location, session.state.seen_snapshots(location) - ids)


def remember_latest(session: Session, snap: Snapshot) -> None:
    session.state.set_latest_snapshot(session.repo.backend.location, snap.id, snap.time_ns)
    remember_listing(session)


def not_before_latest(session: Session, time_ns: int) -> int:
    """A new snapshot's time: never before this computer's newest one there (a clock set back
    would otherwise make an older backup the "latest" that restore and retention go by)."""
    latest = session.state.latest_snapshot(session.repo.backend.location)
    return time_ns if latest is None else max(time_ns, latest[1] + 1)


def newest_missing(session: Session, listed: set[str] | None = None) -> str | None:
    """A warning when the destination no longer lists the newest backup this computer made there
    (None when it does): `latest` there is then not this computer's latest."""
    location = session.repo.backend.location
    latest = (session.state.latest_snapshot(location) or (None, 0))[0]
    if latest is None or latest in (listed if listed is not None else _listed(session)):
        return None
    return (
        f"{location} no longer holds the newest backup this computer made (snapshot {latest[:8]}): "
        "it may have been put back to an older copy, or the snapshot was hidden or deleted there. What changed "
        "since that older copy is not at the destination; the next backup stores it again. If you did not "
        "expect this, ask your storage provider what happened."
    )


def snapshot_warnings(session: Session) -> list[str]:
    """Plain-language warnings about snapshots gone since this computer last looked; what is
    listed now becomes what was seen (the newest own backup is asked for until a new one exists)."""
    location, state = session.repo.backend.location, session.state
    listed = _listed(session)
    missing = newest_missing(session, listed)
    warnings = [missing] if missing else []
    latest = (state.latest_snapshot(location) or (None, 0))[0]
    gone = sorted(state.seen_snapshots(location) - listed - {latest})
    if gone:
        named = ", ".join(g[:8] for g in gone[:5]) + (" …" if len(gone) > 5 else "")
        warnings.append(
            f"{len(gone)} snapshot(s) this computer saw at {location} are gone ({named}): removed by a "
            "clean-up on another computer, or lost by the destination."
        )
    state.set_seen_snapshots(location, listed)
    return warnings
