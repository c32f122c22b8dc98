"""A sample of bench/corruption.py's matrix: every kind of stored object damaged every way is
caught and named, pack damage fails exactly the files it touches (and another destination
supplies them), and `check --repair` leaves a clean repository whose next backup is whole."""

from bench.corruption import DAMAGES, KINDS, Lab, run_trials


def test_every_kind_of_damage_is_caught_named_and_repaired(tmp_path, backbeat_home):
    lab = Lab(tmp_path, 6, 3)
    results = run_trials(lab, 2 * len(KINDS), seed=5)
    assert {t.kind for t in results} == set(KINDS)
    assert {t.damage for t in results} <= set(DAMAGES)
    for t in results:
        assert t.detected, f"{t.kind} {t.damage} of {t.name} went unnoticed: {t.message}"
        assert t.restore_ok is not False, f"{t.kind} {t.damage}: the restore did not fail exactly the damaged files"
        assert t.mirror_ok is not False, f"{t.kind} {t.damage}: the second destination's copy was not used"
        assert t.repaired, f"{t.kind} {t.damage} of {t.name}: not repaired"
    assert any(t.files_lost for t in results)  # some damage really hit files the restore then named
