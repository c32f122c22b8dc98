"""The main window's pages, one module each: status, settings, restore, seed drive, support."""
