"""Jobs called the way the service calls them: through the runner, with what each job declares."""

from __future__ import annotations

from engine.jobs import backup, forget, restore
from engine.service.runner import Runner


def run_backup(session, *args, **kwargs):
    return Runner().run(backup.NEEDS, lambda: backup.run_backup(session, *args, **kwargs), session=session)


def run_restore(session, *args, **kwargs):
    return Runner().run(restore.NEEDS, lambda: restore.run_restore(session, *args, **kwargs), session=session)


def run_forget(session, *args, **kwargs):
    return Runner().run(forget.NEEDS, lambda: forget.run_forget(session, *args, **kwargs), session=session)
