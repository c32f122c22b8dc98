"""The `backbeat` command line: argparse in front of engine.service, nothing more."""
