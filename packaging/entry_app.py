"""Frozen entry point of the menu-bar app (PyInstaller needs a script, not a module)."""

import multiprocessing
import sys

from app.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a backup's helper processes start as this executable
    sys.exit(main())
