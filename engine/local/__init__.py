"""This computer's side: the state database, files cache, spool, work list, restore plan, scanner,
watcher, keychain, and the outbox by which packs reach a destination.

May import `engine.repo`, `engine.backends`, `engine.config` and `engine.base`. It must never know
about pacing (`engine.meter`), jobs, the service or a front end.
"""
