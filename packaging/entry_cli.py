"""Frozen entry point of the `backbeat` command line."""

import sys

from engine.cli import run

sys.exit(run())
