"""The things a user asks for: backup, restore, check, repair, prune, forget, reconcile, seed, copy,
status, rollback, continuous backup, support bundle; and the session every job opens.

May import every layer below (`engine.local`, `engine.meter`, `engine.repo`, `engine.backends`,
`engine.config`, `engine.base`). A job does its work and reports events; it must never take the
repository lock, pace itself or record history on its own: it declares what it needs and the
service's runner applies it. It must never know about a front end.
"""
