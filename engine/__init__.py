"""Backbeat's backup engine: no Qt, importable and testable on its own.

The public door is `engine.service` (with `engine.base.events`, `engine.base.errors` and `engine.base.units`);
the CLI (`engine.cli`) and the desktop app both go through it and nothing else reaches inside.
"""

__version__ = "0.1.0"
PRODUCT = "Backbeat"
