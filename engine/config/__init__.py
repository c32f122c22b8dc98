"""What the user chose: settings (with `update`), the bandwidth policy and its timetable, retention, priority.

May import `engine.base` only. It must never know how a choice is carried out: no destination, no
repository, no job. Settings are changed through `Settings.update`, never built by hand from parts.
"""
