"""The service: run history, and one service object serving several jobs in a row (as the app does)."""


def test_runs_are_recorded_with_their_outcome(service, tmp_path):
    summary = service.backup([str(tmp_path / "src")])
    service.restore("latest", str(tmp_path / "out"))
    (tmp_path / "out" / "src" / "a.txt").write_text("mine")
    service.restore("latest", str(tmp_path / "out"))  # a different a.txt is there already: warnings
    runs = service.history()
    assert [(r["kind"], r["status"]) for r in runs] == [("restore", "warnings"), ("restore", "ok"), ("backup", "ok")]
    assert runs[-1]["snapshot"] == summary.snapshot_id and runs[-1]["summary"]["files_new"] == 1
    assert all(r["finished_ns"] >= r["started_ns"] for r in runs)


def test_one_service_backs_up_then_restores_what_it_just_wrote(service, tmp_path):
    """The session's tree cache must follow an index that grew during the session."""
    service.backup([str(tmp_path / "src")])
    assert [rel for rel, _ in service.list_files("latest")] == ["src", "src/a.txt"]
    (tmp_path / "src" / "b.txt").write_text("b")
    service.backup([str(tmp_path / "src")])
    service.restore("latest", str(tmp_path / "out"))
    assert (tmp_path / "out" / "src" / "b.txt").read_text() == "b"


def test_the_history_keeps_the_newest_runs_only(tmp_path, monkeypatch):
    """Continuous backup records a run per change: the history must not grow for years."""
    from engine.local import state as state_module
    from engine.local.state import State

    monkeypatch.setattr(state_module, "_RUNS_KEPT", 5)
    state = State(tmp_path / "state.sqlite")
    for i in range(12):
        run = state.start_run("backup", i)
        state.finish_run(run, i + 1, "ok", None, {"n": i}, None)
    kept = list(state.runs(50))
    state.close()
    assert [r["summary"]["n"] for r in kept] == [11, 10, 9, 8, 7]


def test_the_last_backup_is_known_from_this_computer_while_the_destination_is_away(service, tmp_path):
    """What the app tells a user whose destination has been out of reach for a day rests on it."""
    import time

    from engine.service.away import NOTICE_AFTER, away_notice, last_backed_up

    assert last_backed_up(service.location) is None  # reached, never backed up
    before = time.time()
    service.backup([str(tmp_path / "src")])
    service.restore("latest", str(tmp_path / "out"))  # a later run of another kind does not count
    when = last_backed_up(service.location)
    assert when is not None and before <= when <= time.time()
    (tmp_path / "repo").rename(tmp_path / "unplugged")
    assert last_backed_up(service.location) == when  # from this computer's records alone
    assert away_notice(service.location, when, away_since=time.time(), now=when + NOTICE_AFTER - 60) is None
    said = away_notice(service.location, when, away_since=time.time(), now=when + NOTICE_AFTER + 60)
    assert said.startswith(f"Nothing has been backed up to {service.location} since yesterday")
    assert away_notice(service.location, None, away_since=when, now=when + NOTICE_AFTER + 60) is not None
