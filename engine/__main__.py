"""`python -m engine` runs the command line (not when a backup's helper process imports it)."""

from engine.cli import run

if __name__ == "__main__":
    raise SystemExit(run())
