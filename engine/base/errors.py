"""Every error a user can meet: a message, a hint that says what to do, an exit code and a kind.

Kinds tell callers how to react: `transient` problems (a network blip) are worth retrying,
`permanent` ones (a wrong passphrase, a missing repository) stop the run with their hint, and
`integrity` ones (a blob that fails authentication) are reported per file and never restored
silently. Per-file problems during a run are *reported* as events and skipped, not raised.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Problem",
    "EXIT_OK",
    "EXIT_ERROR",
    "EXIT_USAGE",
    "EXIT_WARNINGS",
    "BackbeatError",
    "WrongPassphrase",
    "NoPassphrase",
    "RepositoryNotFound",
    "RepositoryExists",
    "NotARepository",
    "UnsupportedFormat",
    "IntegrityError",
    "UnauthenticatedConfig",
    "BackendError",
    "TransientBackendError",
    "ServerFault",
    "ForeignName",
    "ObjectNotFound",
    "SnapshotNotFound",
    "PathNotInSnapshot",
    "OtherRepositoryThere",
    "PassphraseMismatch",
    "EmptyPassphrase",
    "BadRestoreTarget",
    "WrongSecretKey",
    "DestinationFull",
    "CredentialsRefused",
    "AccessDenied",
    "NoSuchBucket",
    "NoCredentials",
    "NoKeychain",
    "ChunkerUnavailable",
    "UsageError",
    "BadSchedule",
    "RepositoryBusy",
    "LocalDiskFull",
    "LockLost",
    "Stopped",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_WARNINGS = 3


class BackbeatError(Exception):
    """Base of the tree: `str(err)` is the message, `err.hint` says what to do about it."""

    message = "something went wrong"
    hint = ""
    exit_code = EXIT_ERROR
    kind = "permanent"

    def __init__(self, detail: str | None = None, *, hint: str | None = None) -> None:
        self.detail = detail
        if hint is not None:
            self.hint = hint
        if detail is None:
            text = self.message
        elif type(self) in (BackbeatError, UsageError):  # their messages only stand in for a missing detail:
            text = detail  # a refusal is said as it is, not after "something went wrong:"
        else:
            text = f"{self.message}: {detail}"
        super().__init__(text)


class WrongPassphrase(BackbeatError):
    message = "wrong passphrase"
    hint = "Check the passphrase (BACKBEAT_PASSWORD, --password-file or the keychain entry); nothing was changed."


class NoPassphrase(BackbeatError):
    message = "no passphrase given"
    hint = "Set BACKBEAT_PASSWORD, pass --password-file FILE, or run on a terminal to be asked."


class PassphraseMismatch(BackbeatError):
    message = "the two passphrases you typed differ"
    hint = "Run the command again and type the same passphrase twice; nothing was created."
    exit_code = EXIT_USAGE


class EmptyPassphrase(BackbeatError):
    message = "no passphrase chosen"
    hint = "Choose a passphrase you will remember (four words or more); it cannot be recovered. Nothing was created."
    exit_code = EXIT_USAGE


class RepositoryNotFound(BackbeatError):
    message = "no repository at this location"
    hint = "Check the --repo location (is its drive connected?), or create a repository there with `backbeat init`."


class RepositoryExists(BackbeatError):
    message = "a repository already exists at this location"
    hint = "Use it as it is, or choose another --repo location."


class NotARepository(BackbeatError):
    message = "this location is not a Backbeat repository"
    hint = "Point --repo at the folder that `backbeat init` created (it holds a `config` file and `keys/`)."


class UnsupportedFormat(BackbeatError):
    message = "this repository uses a format this version of Backbeat cannot read"
    hint = "Update Backbeat to the latest version."


class IntegrityError(BackbeatError):
    message = "data failed verification"
    hint = "Run `backbeat check --read-data` to see what is damaged; damaged files are reported, never restored."
    kind = "integrity"


class UnauthenticatedConfig(IntegrityError):
    message = "the repository's `config` carries no authentication code"
    hint = (
        "Repositories made by Backbeat before 2026 have none; a destination can also have removed it to change "
        "how your files are cut up. If this is your older backup, open it once with --trust-config: it then "
        "gets one."
    )


class BackendError(BackbeatError):
    message = "the backup destination failed"
    hint = "Check that the destination is reachable and writable, then run the command again."


class ForeignName(BackendError):
    message = "refused a name the destination gave: no Backbeat object is called that"
    hint = "Something other than Backbeat wrote there; nothing was read from or written to that name."
    kind = "integrity"


class TransientBackendError(BackendError):
    message = "the backup destination is not answering"
    hint = "Backbeat retries on its own; check the network if this lasts."
    kind = "transient"


class ServerFault(TransientBackendError):
    """The destination answered with its own internal error (HTTP 500): usually gone at the next
    try, but a server that keeps failing on one object while it answers others is given up on
    for that object (engine.backends.retry), not waited for without end."""

    message = "the destination failed on a request"
    hint = "Backbeat tries again later on its own; if this stays, tell your storage provider (it is their error)."


class ObjectNotFound(BackendError):
    message = "an object is missing from the destination"
    hint = "Run `backbeat check` to see what is missing."
    kind = "integrity"


class SnapshotNotFound(BackbeatError):
    message = "no such snapshot"
    hint = "List the snapshots with `backbeat snapshots` and use one of their ids (a unique prefix is enough)."


class OtherRepositoryThere(BackbeatError):
    message = "another backup is there"
    hint = "Choose an empty location, or the one this backup already uses."


class PathNotInSnapshot(BackbeatError):
    message = "not in this snapshot"
    hint = "List what the snapshot holds with `backbeat ls SNAPSHOT`, then give a path it shows."


class BadRestoreTarget(BackbeatError):
    message = "cannot restore there"
    hint = "Give --target a folder (it is created when missing), for instance --target ~/Restored."
    exit_code = EXIT_USAGE


class DestinationFull(BackendError):
    message = "the destination is full"
    hint = "Free some space on it (or choose another destination), then run the command again: it resumes."


class CredentialsRefused(BackendError):
    message = "the storage service refused the credentials"
    hint = "Check the access key id and secret key (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or `backbeat login`)."


class WrongSecretKey(CredentialsRefused):
    message = "the storage service says the secret access key is wrong (the request's signature did not match)"
    hint = "Check the secret access key that goes with this access key id (AWS_SECRET_ACCESS_KEY, or `backbeat login`)."


class AccessDenied(BackendError):
    message = "access denied by the storage service"
    hint = "Give these credentials read, write, list and delete rights on the bucket."


class NoSuchBucket(BackendError):
    message = "the bucket does not exist"
    hint = "Create the bucket in your storage provider's console, or correct the bucket name in the location."


class NoCredentials(BackendError):
    message = "no credentials for the storage service"
    hint = "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile), or save keys with `backbeat login`."


class NoKeychain(BackbeatError):
    message = "no OS keychain is available on this machine"
    hint = "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and BACKBEAT_PASSWORD) in the environment instead."


class ChunkerUnavailable(BackbeatError):
    message = "the compiled FastCDC chunker (pyfastcdc's Cython module) could not be loaded"
    hint = "Reinstall Backbeat's dependencies (`pip install --force-reinstall pyfastcdc`) on a supported platform."


class UsageError(BackbeatError):
    message = "invalid command line"
    hint = "See `backbeat --help`."
    exit_code = EXIT_USAGE


class BadSchedule(UsageError):
    message = "the bandwidth schedule is not valid"
    hint = 'Write it like "Mon-Fri 08:00,512k 18:00,256k 23:00,off" (times HH:MM, rates in bytes per second).'


class LocalDiskFull(BackbeatError):
    message = "this computer's disk is full"
    hint = (
        "Free some space on it: Backbeat keeps packs waiting for upload, and its records, in its app-data "
        "folder. The next backup resumes where this one stopped; nothing already backed up is lost."
    )


class RepositoryBusy(BackbeatError):
    message = "the backup is in use"
    hint = "Try again once it has finished; `backbeat unlock` removes locks left by a computer that stopped."
    kind = "transient"


class LockLost(BackbeatError):
    message = "this run's lock on the backup was removed by another computer (it looked abandoned)"
    hint = "Nothing was lost: run it again. A computer that sleeps for over half an hour mid-run can cause this."


class Stopped(BackbeatError):
    """The user stopped the job (the app's Stop): not a failure, nothing to mend."""

    message = "stopped"
    hint = "What was finished before the stop is kept; the next run carries on from there."
    kind = "stopped"


@dataclass(frozen=True)
class Problem:
    """An error as a front end shows it, an object and never a string to parse again: what
    happened, what to do about it, and its kind ("permanent", "transient", "integrity", "usage",
    "stopped" when the user asked, or "internal" for a fault of ours, whose type name is kept for support)."""

    message: str
    hint: str = ""
    kind: str = "permanent"
    #: where the user does what the hint says (a System Settings pane), when there is such a place
    link: str = ""
    #: the destination is out of reach (no network, the drive unplugged): normal for a while,
    #: protection tries again by itself; worth telling the user only once it lasts (engine.service.away)
    away: bool = False

    @classmethod
    def of(cls, error: BaseException) -> Problem:
        if isinstance(error, UsageError):
            return cls(str(error), error.hint, "usage")
        if isinstance(error, BackbeatError):
            away = isinstance(error, (TransientBackendError, RepositoryNotFound))
            return cls(str(error), error.hint, error.kind, away=away)
        return cls(f"{type(error).__name__}: {error}", "", "internal")

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message
