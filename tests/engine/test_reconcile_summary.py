"""The words the app shows after "Check Online Storage"."""

from engine.jobs.reconcile import ReconcileReport


def test_a_seed_not_yet_loaded_says_to_wait():
    shipping = ReconcileReport("s3://b/p", seed_waiting=True, seed_state="shipping").summary()
    assert "has not started loading the seed drive" in shipping and "%" not in shipping
    loading = ReconcileReport("s3://b/p", seed_waiting=True, seed_state="loading").summary()
    assert "is still loading the seed drive" in loading and "%" not in loading


def test_everything_there():
    said = ReconcileReport("s3://b/p", objects_present=40, percent_backed_up=100.0).summary()
    assert said == (
        "Online storage checked: 100.0% of your files are backed up online. "
        "Everything this computer sent or seeded is there."
    )


def test_lost_pieces_say_what_the_next_backup_uploads():
    r = ReconcileReport("s3://b/p", missing=["data/aa"], corrupt=["data/bb"], bytes_to_upload=3 << 20)
    r.percent_backed_up = 97.25
    assert r.summary() == (
        "Online storage checked: 97.2% of your files are backed up online. 2 piece(s) were missing or damaged: "
        "the next backup uploads 3.0 MB again to replace them."
    )


def test_pieces_copied_from_the_drive_are_not_counted_as_lost():
    r = ReconcileReport("s3://b/p", missing=["data/aa"], repaired_from_drive=1, percent_backed_up=100.0)
    assert r.summary().endswith("1 missing or damaged piece(s) were copied from the seed drive.")


def test_a_figure_from_names_and_sizes_only_is_said_to_be_provisional():
    r = ReconcileReport("/Volumes/NAS/backup", objects_present=40, percent_backed_up=100.0)
    r.packs_verified, r.unverified = 16, 24
    assert r.summary().endswith(
        "The figure is provisional: 24 piece(s) were counted by their name and size, 16 checked by their content."
    )
