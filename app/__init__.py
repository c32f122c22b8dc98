"""The PySide6 desktop app: menu-bar icon, main window (status, settings, restore, seed drive, support).

It drives the engine through `engine.service` only (via `app.bridge`, off the GUI thread);
widgets hold no backup logic.
"""
