"""Frozen entry point of the `backbeat` command line."""

import sys

from engine.cli.main import main

sys.exit(main())
