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
