"""Every command's --help renders (a stray % in a help text once made `backbeat --help` crash)."""

import argparse

from engine.cli.main import build_parser


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_help_renders():
    names = []
    for p in _parsers(build_parser()):
        assert p.format_help()
        names.append(p.prog)
    assert {"backbeat limit", "backbeat pause", "backbeat seed export", "backbeat reconcile"} <= set(names)
