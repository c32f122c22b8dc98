"""Frozen entry point of the `backbeat` command line."""

import multiprocessing
import sys

from engine.cli import run

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a backup's helper processes start as this executable
    sys.exit(run())
