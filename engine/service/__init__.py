"""The engine's door: the one way in for the command line and the app.

`BackupService` runs jobs (through the runner, which applies what each job declares) and hands
out the scheduler; `engine.service.setup` is the first run and the keychain. May import every
engine layer. Front ends import this package and `engine.base` and `engine.config` only, never
what lies below: the few types of the layers below that they show (a tree entry's kind, the
reports) are named here, so the door is the whole vocabulary they need.
"""

from engine.jobs.backup import access_problems
from engine.jobs.continuous import WatchRun
from engine.jobs.find import Version
from engine.jobs.forget import describe_decision
from engine.jobs.prune import PruneReport
from engine.jobs.status import left_in_icloud
from engine.repo.tree import Kind, TreeEntry
from engine.service.door import BackupService
from engine.service.schedule import Scheduler

__all__ = [
    "BackupService",
    "Scheduler",
    "WatchRun",
    "Version",
    "PruneReport",
    "Kind",
    "TreeEntry",
    "describe_decision",
    "access_problems",
    "left_in_icloud",
]
