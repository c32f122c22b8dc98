"""The local state's own guarantees, with real SQLite files and threads."""

from __future__ import annotations

import os
import threading

from engine.local.state import State


def test_what_a_destination_holds_is_replaced_whole_by_threads_racing(tmp_path):
    """The app asked for status (which lists the destination) while a reconcile did the same: the
    delete and the insert of the two listings interleaved, and one failed on a duplicate row."""
    one, other = State(tmp_path / "s.sqlite"), State(tmp_path / "s.sqlite")  # two threads of one app, and a CLI
    listings = [{os.urandom(32): n for n in range(1500)} for _ in range(2)]
    errors: list[BaseException] = []

    def replace(state: State, listing: dict) -> None:
        try:
            for _ in range(30):
                state.set_held("s3:bucket", listing)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [
        threading.Thread(target=replace, args=a) for a in ((one, listings[0]), (one, listings[1]), (other, listings[0]))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert one.held("s3:bucket") in listings  # one whole listing, never a mix
    one.close()
    other.close()
