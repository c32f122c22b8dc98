"""Frozen entry point of the menu-bar app (PyInstaller needs a script, not a module)."""

import sys

from app.main import main

sys.exit(main())
