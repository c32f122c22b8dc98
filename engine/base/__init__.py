"""What every layer may use: errors, events, units, the clock, safe file writes, the app's folders, logs,
the user's stop.

Imports nothing from the rest of the engine. It must never know about repositories, destinations,
jobs or what the user chose: a module belongs here only when a test can use it with no repository.
"""
