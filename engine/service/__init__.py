"""The engine's door: the one way in for the command line and the app.

`BackupService` runs jobs (through the runner, which applies each job's needs) and the scheduler.
May import every engine layer. Front ends import this package and the `engine.base` and
`engine.config` types only, never what lies below.
"""

from engine.service.door import BackupService

__all__ = ["BackupService"]
