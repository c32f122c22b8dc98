"""The PySide6 desktop app (menu-bar icon, main window, restore browser, seed drive wizard).

It drives the engine through `engine.service` only; widgets hold no backup logic. The app
itself arrives with the desktop app issue.
"""
