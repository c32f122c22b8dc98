"""pytest-qt drives the real widgets (offscreen) against the real engine."""

import os
import time
from dataclasses import replace

import pytest

from app.pages.status import status_answer
from bench.datasets import assert_same_tree
from engine.base.units import format_bytes, format_rate
from engine.config.bandwidth import BandwidthPolicy
from engine.config.settings import Settings, load_settings, save_settings
from engine.meter import control
from engine.service import BackupService
from tests.conftest import PASSWORD, everything_chosen


def _wait_job(qtbot, bridge, kind, timeout=30000):
    with qtbot.waitSignal(bridge.job_finished, timeout=timeout, check_params_cb=lambda k, r: k == kind) as blocker:
        pass
    return blocker.args[1]


def test_back_up_now_from_the_tray_menu_makes_a_snapshot(qtbot, desktop):
    bridge, tray, window, src = desktop
    with qtbot.waitSignal(bridge.job_finished, timeout=30000) as done:
        tray.backup_action.trigger()
    kind, summary = done.args
    assert kind == "backup" and summary.files_new == 2
    assert tray.state == "idle" and tray.status_action.text() == "Protected — last backup just now"
    assert len(bridge.service.snapshots()) == 1


def test_pause_and_resume_from_the_tray_menu(qtbot, desktop):
    bridge, tray, window, src = desktop
    tray.pause_action.trigger()
    assert control.current_pause() is not None  # what every running job looks at 10 times a second
    qtbot.waitUntil(lambda: tray.state == "paused", timeout=3000)
    assert tray.pause_action.text() == "Resume Backups" and tray.status_action.text().startswith("Paused")
    tray.pause_action.trigger()
    assert control.current_pause() is None
    qtbot.waitUntil(lambda: tray.pause_action.text() == "Pause Backups", timeout=3000)
    assert tray.pause_action.menu() is tray.pause_menu  # durations offered while not paused
    hour = next(a for a in tray.pause_menu.actions() if a.text() == "For 1 Hour")
    hour.trigger()
    until = control.current_pause().until
    assert until is not None and 3590 < until - time.time() <= 3600
    qtbot.waitUntil(lambda: tray.state == "paused", timeout=3000)
    assert tray.pause_action.menu() is None  # paused: the item itself resumes
    tray.pause_action.trigger()
    tomorrow = next(a for a in tray.pause_menu.actions() if a.text() == "Until Tomorrow")
    tomorrow.trigger()
    assert 0 < control.current_pause().until - time.time() <= 30 * 3600
    control.resume()


def test_settings_round_trip_to_the_engines_configuration(qtbot, desktop):
    bridge, tray, window, src = desktop
    page = window.settings
    page.fixed.setChecked(True)
    page.fixed_kbs.setValue(200)
    page.battery.setChecked(True)
    page.excludes.setText("*.iso, cache")
    assert "one a day for the last 30 days" in page.versions.text()
    assert page.deleted_days.value() == 90 and page.cleanup_days.value() == 7
    page.deleted_days.setValue(30)
    page.cleanup_days.setValue(0)
    assert page.save()
    saved = load_settings()
    assert saved.retention.deleted_days == 30 and saved.prune.every_days == 0
    assert page.versions.text().endswith("Deleted files stay restorable for 30 days.")
    assert page.cleanup_days.text() == "never by itself"
    assert saved.bandwidth == BandwidthPolicy("fixed", 200 * 1024.0)
    assert saved.pause_on_battery and saved.excludes == ("*.iso", "cache")
    assert bridge.service.bandwidth().reason == "fixed limit: 200 KB/s"  # the engine sees it at once
    page.schedule_text = "Mon-Fri 08:00,512k 18:00,bad"
    page.scheduled.setChecked(True)
    assert not page.save() and "entry 3" in page.error.text()  # the bad entry is named
    page.load()
    assert page.fixed.isChecked() and page.fixed_kbs.value() == 200
    where = page.destination
    where.kind.setCurrentIndex(2)  # another S3 service
    where.bucket.setText("my-bucket")
    assert not page.save() and "address" in page.error.text()
    where.endpoint.setText("https://s3.example.com")
    where.prefix.setText("backup")
    assert where.location() == "s3:https://s3.example.com/my-bucket/backup"
    where.access_key.setText("AKIAEXAMPLE")
    where.secret_key.setText("secret")
    assert not page.save() and "no keychain" in page.error.text()  # keys never go to a file
    assert (
        "secret" not in (load_settings().destination or "") and load_settings().destination != "s3://my-bucket/backup"
    )


def test_saving_the_settings_page_unchanged_keeps_every_choice(qtbot, desktop):
    """The page shows some settings; saving it must keep the others (watch timing, checkpoints, order, retention)."""
    bridge, tray, window, src = desktop
    full = everything_chosen(destination=load_settings().destination)
    save_settings(full)
    window.settings.load()
    assert window.settings.save()
    assert load_settings() == full


def test_a_new_destination_is_checked_before_it_is_saved(qtbot, desktop, tmp_path):
    """Save reaches the new place off the GUI thread: an empty folder gets a new backup (and the
    next backup goes there); one holding a backup this passphrase does not open is refused, and
    the settings stay as they were."""
    bridge, tray, window, src = desktop
    page = window.settings
    before = load_settings()
    theirs = tmp_path / "neighbours-backup"
    other = BackupService(str(theirs))
    other.init("another passphrase entirely")
    other.close()
    page.destination.folder.setText(str(theirs))
    with qtbot.waitSignal(page.destination_settled, timeout=30000):
        assert page.save()
        assert not page.save_button.isEnabled()  # one check at a time
    assert page.error.text().startswith(f"Not saved: another backup is there: {theirs}")
    assert "another passphrase" in page.error.text() and load_settings() == before
    assert page.save_button.isEnabled()

    moved = tmp_path / "new-drive" / "Backbeat"
    page.destination.folder.setText(str(moved))
    with qtbot.waitSignal(page.destination_settled, timeout=30000):
        assert page.save()
    assert page.error.text() == "" and "A new backup was started there" in page.outcome.text()
    assert load_settings().destination == str(moved) and bridge.service.location == str(moved)
    bridge.backup_now()
    _wait_job(qtbot, bridge, "backup")
    check = BackupService(str(moved))
    check.unlock(PASSWORD)  # the app's own passphrase opens it
    assert len(check.snapshots()) == 1
    check.close()


def test_the_schedule_editor_writes_a_timetable_the_engine_accepts(qtbot, desktop):
    from app.pages.settings import ScheduleEditor
    from engine.config.bandwidth import parse_policy

    editor = ScheduleEditor("Mon-Fri 08:00,512k 18:00,256k 23:00,off")
    qtbot.addWidget(editor)
    assert editor.text() == "Mon-Fri 08:00,512k 18:00,256k 23:00,off"
    assert parse_policy(editor.text()).mode == "schedule"
    typed = ScheduleEditor("Fri-Mon 22:00,off sat 09:00,1M")  # as a user may type it on the command line
    qtbot.addWidget(typed)
    assert typed.table.cellWidget(0, 0).currentText() == "Fri-Mon"
    assert typed.text() == "Fri-Mon 22:00,off Sat 09:00,1024k"


def _restore_page_with_a_backup(qtbot, desktop):
    bridge, tray, window, src = desktop
    with qtbot.waitSignal(bridge.job_finished, timeout=30000):
        bridge.backup_now()
    window.show()
    window.show_page("Restore")
    page = window.restore
    qtbot.waitUntil(lambda: page.tree.topLevelItemCount() > 0 and not page._filling.isActive(), timeout=10000)
    return page


def test_the_restore_page_restores_a_ticked_file(qtbot, desktop, tmp_path):
    from PySide6.QtCore import Qt

    bridge, tray, window, src = desktop
    page = _restore_page_with_a_backup(qtbot, desktop)
    top = page.tree.topLevelItem(0)
    letter = next(top.child(i) for i in range(top.childCount()) if top.child(i).text(0) == "letter.txt")
    letter.setCheckState(0, Qt.Checked)
    page.target_dir = str(tmp_path / "restored")
    os.mkdir(page.target_dir)
    page.original.setChecked(False)
    with qtbot.waitSignal(bridge.job_finished, timeout=30000) as done:
        page.restore_button.click()
    assert done.args[0] == "restore"
    assert (tmp_path / "restored" / "Documents" / "letter.txt").read_text() == (src / "letter.txt").read_text()
    assert not (tmp_path / "restored" / "Documents" / "Taxes").exists()  # only what was ticked
    assert "Restored 1 file" in page.result.text()
    with qtbot.waitSignal(bridge.job_finished, timeout=30000):
        page.restore_button.click()  # again: the file is there already, and the page says so
    assert "1 were already there, the same" in page.result.text()
    (src / "letter.txt").unlink()
    page.original.setChecked(True)  # back where it was backed up from: the snapshot's own base
    with qtbot.waitSignal(bridge.job_finished, timeout=30000):
        page.restore_button.click()
    assert (src / "letter.txt").exists() and "Restored 1 file" in page.result.text()


def test_the_seed_wizard_runs_end_to_end_onto_a_drive(qtbot, desktop, tmp_path):
    bridge, tray, window, src = desktop
    drive = tmp_path / "USB"
    drive.mkdir()
    wizard = window.open_wizard()
    qtbot.waitUntil(lambda: "first upload would take" in wizard.intro.estimate.text(), timeout=10000)
    wizard.next()
    wizard.drive_page.set_drive(str(drive))
    assert "It fits." in wizard.drive_page.space.text()
    wizard.next()
    qtbot.waitUntil(lambda: wizard.export.done, timeout=30000)  # export label: {wizard.export.label.text()}
    jobs: list[str] = []
    bridge.progress.connect(lambda ev: jobs.append(ev.job))
    wizard.next()
    qtbot.waitUntil(lambda: wizard.verify.ok, timeout=30000)
    assert "seed verify" in jobs and wizard.verify.progress.value() == 100  # the check shows its progress
    wizard.next()
    assert "Ship the drive" in wizard.next_page.title()
    assert (drive / "Backbeat" / "backbeat-seed-manifest.json").exists()

    seed = window.seed  # later: has the provider loaded it?
    qtbot.waitUntil(lambda: "on its way" in seed.state.text(), timeout=10000)
    seed.check.click()
    qtbot.waitUntil(lambda: "has not started loading the seed drive" in seed.checked.text(), timeout=30000)
    BackupService(bridge.service.location).seed.load(str(drive / "Backbeat"))  # the provider's side
    seed.check.click()
    qtbot.waitUntil(lambda: "Online storage checked: 100.0%" in seed.checked.text(), timeout=30000)
    qtbot.waitUntil(lambda: "No seed drive is on its way" in seed.state.text(), timeout=10000)


def test_an_engine_error_shows_on_the_status_page_in_plain_words(qtbot, desktop, tmp_path):
    bridge, tray, window, src = desktop
    (tmp_path / "repo").rename(tmp_path / "unplugged")  # the backup drive is not there
    with qtbot.waitSignal(bridge.job_failed, timeout=30000, check_params_cb=lambda kind, _: kind == "backup"):
        tray.backup_action.trigger()  # (not the Status page's own question, which fails too)
    text = window.status.problem.text()
    assert window.status.problem.isVisibleTo(window) and "Last problem" in text
    assert "drive" in text.lower() or "connect" in text.lower()
    assert tray.state == "attention"


def test_the_window_stays_responsive_during_a_long_backup(qtbot, desktop, dataset64):
    from PySide6.QtCore import QTimer

    bridge, tray, window, src = desktop
    window.show()
    save_settings(Settings(folders=(str(dataset64),), destination=load_settings().destination))
    stalls, last = [], [time.monotonic()]

    def tick():
        now = time.monotonic()
        stalls.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    with qtbot.waitSignal(bridge.job_finished, timeout=120000) as done:
        assert bridge.backup_now()
    timer.stop()
    summary = done.args[1]
    assert summary.bytes_read > 60 << 20, summary
    assert len(stalls) >= 20  # the loop ran all along (a 64 MiB backup takes about half a second here)
    assert max(stalls) <= 0.100, f"the event loop stalled {max(stalls) * 1000:.0f} ms"


def test_pause_from_the_tray_stops_sending_within_a_second_and_resume_finishes(qtbot, desktop_s3):
    bridge, tray, window, src = desktop_s3
    bucket = bridge.service.bucket  # every byte this process sends to S3 passes through it
    with qtbot.waitSignal(bridge.job_finished, timeout=60000) as done:
        tray.backup_action.trigger()
        qtbot.waitUntil(lambda: bucket.sent > 200_000, timeout=20000)
        tray.pause_action.trigger()
        qtbot.wait(1000)  # within a second sending stops...
        stopped = bucket.sent
        qtbot.wait(1500)
        assert bucket.sent == stopped  # ...and stays stopped
        assert tray.state == "paused"
        tray.pause_action.trigger()
        # over a network the status page counts bytes sent against what is left, with a finish time
        summary = window.status.summary
        qtbot.waitUntil(lambda: summary.text().startswith("Uploading:") and "left" in summary.text(), timeout=15000)
    assert done.args[0] == "backup" and done.args[1].files_new == 1


def test_the_support_page_writes_a_bundle(qtbot, desktop, tmp_path):
    import zipfile

    bridge, tray, window, src = desktop
    path = tmp_path / "support.zip"
    with qtbot.waitSignal(bridge.job_finished, timeout=30000):
        window.support.create_bundle(str(path))
    assert "Saved" in window.support.result.text()
    with zipfile.ZipFile(path) as z:
        assert {"about.txt", "check.txt", "REDACTED.txt"} <= set(z.namelist())


def test_first_run_makes_a_backup_in_a_folder_and_refuses_a_wrong_passphrase_to_connect(qtbot, tmp_path):
    from app.setup import SetupDialog

    repo, docs = tmp_path / "Backups", tmp_path / "Documents"
    docs.mkdir()
    dialog = SetupDialog()
    qtbot.addWidget(dialog)
    dialog.destination.folder.setText(str(repo))
    dialog.folder.setText(str(docs))
    dialog.passphrase.setText("short")
    dialog.finish()
    assert "Too short" in dialog.error.text() and not repo.exists()
    dialog.passphrase.setText("four words are plenty")
    dialog.again.setText("four words are plenty!")
    dialog.finish()
    assert "differ" in dialog.error.text()
    dialog.again.setText("four words are plenty")
    with qtbot.waitSignal(dialog.settled, timeout=30000):
        dialog.finish()
        assert not dialog.ok.isEnabled()  # the key is derived off the GUI thread
    assert dialog.result() and dialog.passphrase_value == "four words are plenty"
    from app.loginitem import installed

    assert dialog.at_login.isChecked() and installed()  # on by default: protection survives a restart
    saved = load_settings()
    assert saved.destination == str(repo) and saved.folders == (str(docs),)
    assert BackupService(str(repo)).backend.exists()

    again = SetupDialog()
    qtbot.addWidget(again)
    again.existing.setChecked(True)
    assert again.again.isHidden() and again.ok.text() == "Connect"
    again.destination.folder.setText(str(repo))
    again.passphrase.setText("not the passphrase")
    with qtbot.waitSignal(again.settled, timeout=30000):
        again.finish()
    assert "passphrase" in again.error.text().lower() and not again.result()
    again.destination.folder.setText(str(tmp_path / "nothing-here"))
    again.passphrase.setText("four words are plenty")
    with qtbot.waitSignal(again.settled, timeout=30000):
        again.finish()
    assert "no Backbeat backup there" in again.error.text()


def test_first_run_connects_to_a_backup_in_a_bucket_of_the_real_s3_server(qtbot, s3_repo):
    from app.setup import SetupDialog
    from engine.config.destination import parse_s3

    made = BackupService(s3_repo)
    made.init(PASSWORD)
    made.close()
    where = parse_s3(s3_repo)
    dialog = SetupDialog()
    qtbot.addWidget(dialog)
    dialog.existing.setChecked(True)
    dialog.destination.kind.setCurrentIndex(2)
    dialog.destination.bucket.setText(where.bucket)
    dialog.finish()
    assert "address" in dialog.error.text()
    dialog.destination.endpoint.setText(where.endpoint)
    dialog.destination.prefix.setText(where.prefix)
    dialog.passphrase.setText(PASSWORD)
    with qtbot.waitSignal(dialog.settled, timeout=30000):
        dialog.finish()
    assert dialog.result(), dialog.error.text()
    assert load_settings().destination == dialog.destination.location()
    assert BackupService(load_settings().destination).repository_id() == BackupService(s3_repo).repository_id()


def test_a_missing_full_disk_access_shows_on_the_status_page_with_a_way_to_grant_it(qtbot, desktop):
    from engine import platform
    from tests.e2e.test_metadata import _NoFullDiskAccess

    bridge, tray, window, src = desktop
    assert not window.status.access.isVisibleTo(window)
    with platform.use(_NoFullDiskAccess()):
        with qtbot.waitSignal(bridge.answered, timeout=10000, check_params_cb=lambda name, _: name == "status"):
            window.status.refresh()
    assert window.status.access.isVisibleTo(window) and window.status.access_button.isVisibleTo(window)
    assert "Full Disk Access" in window.status.access.text()
    assert window.status._access_link.startswith("x-apple.systempreferences:")
    with platform.use(_NoFullDiskAccess()):  # and a notification, once, not after every backup
        for _ in range(2):
            bridge.backup_now()
            _wait_job(qtbot, bridge, "backup")
    assert [title for title, _ in tray.said] == ["Backbeat needs Full Disk Access"]
    assert "System Settings" in tray.said[0][1]


def test_the_settings_page_lists_wifi_networks_never_to_upload_on(qtbot, desktop):
    from engine import platform
    from tests.engine.test_pacing import _OnWifi

    bridge, tray, window, src = desktop
    page = window.settings
    page.wifi_typed.setText("Train")
    page.wifi_typed.returnPressed.emit()
    with platform.use(_OnWifi("Café Lumière")):
        page.wifi_here.click()
    with platform.use(_OnWifi(None)) as hidden:
        hidden.WIFI_NAME_HIDDEN = "allow Location Services for Backbeat"
        page.wifi_here.click()
    assert "does not say its name: allow Location Services for Backbeat" in page.wifi_note.text()
    assert page.save() and load_settings().never_upload_on_wifi == ("Train", "Café Lumière")
    page.wifi.setCurrentRow(0)
    page.wifi_remove.click()
    assert page.save() and load_settings().never_upload_on_wifi == ("Café Lumière",)


def test_the_status_page_says_what_the_last_backup_left_in_icloud(qtbot, desktop):
    from engine import platform
    from tests.e2e.test_metadata import _ICloud

    bridge, tray, window, src = desktop
    film = src / "film.mov"
    film.write_bytes(bytes(3_000_000))
    icloud = _ICloud()
    icloud.evicted.add(film.stat().st_ino)
    with platform.use(icloud):
        bridge.backup_now()
        _wait_job(qtbot, bridge, "backup")
    with qtbot.waitSignal(bridge.answered, timeout=10000, check_params_cb=lambda name, _: name == "status"):
        window.status.refresh()
    assert window.status.icloud.isVisibleTo(window)
    assert window.status.icloud.text().startswith("1 file(s) (2.9 MB) are only in iCloud, not on this Mac")
    assert window.settings.icloud.isHidden()  # the choice is a Mac's: Linux has no placeholders


def test_the_seed_wizard_says_when_the_backup_is_online_already(qtbot, desktop):
    """Issue 27: a seed drive made when the destination held everything doubled the bucket; the
    wizard now says what is online already, and that a drive would not help."""
    bridge, tray, window, src = desktop
    with qtbot.waitSignal(bridge.job_finished, timeout=60000):
        tray.backup_action.trigger()
    wizard = window.open_wizard()
    qtbot.waitUntil(lambda: "online already" in wizard.intro.estimate.text(), timeout=10000)
    assert "a seed drive would not save you anything" in wizard.intro.estimate.text()
    (src / "new.bin").write_bytes(os.urandom(300_000))
    wizard.intro.initializePage()
    qtbot.waitUntil(lambda: "of it is online already; the rest" in wizard.intro.estimate.text(), timeout=10000)
    assert "The drive carries only what is not online yet." in wizard.intro.estimate.text()


def test_the_user_uploads_the_seed_drive_from_a_faster_connection(qtbot, desktop, tmp_path):
    """Issue 26: with couriers gone, a home user carries the drive (and the laptop) to a faster line
    and uploads it there: the Seed Drive page offers it, shows progress, then checks online storage."""
    bridge, tray, window, src = desktop
    drive = tmp_path / "USB"
    drive.mkdir()
    with qtbot.waitSignal(bridge.job_finished, timeout=60000):
        bridge.run_job("seed export", lambda s: s.seed.export(str(drive / "Backbeat"), [str(src)]))
    seed = window.seed
    bridge.ask("status", status_answer)
    qtbot.waitUntil(lambda: not seed.upload.isHidden(), timeout=10000)
    assert "faster connection" in seed.state.text() and "no passphrase" in seed.state.text()
    seen = []
    bridge.progress.connect(lambda ev: seen.append(ev) if ev.job == "seed load" else None)
    seed.upload_from(str(drive / "Backbeat"))
    qtbot.waitUntil(lambda: "Online storage checked: 100.0%" in seed.checked.text(), timeout=60000)
    assert seen and seen[-1].bytes_done == seen[-1].bytes_total > 0  # progress shown along the way
    qtbot.waitUntil(lambda: "No seed drive is on its way" in seed.state.text(), timeout=10000)
    assert seed.upload.isHidden()


def test_the_window_fits_a_laptop_screen_and_pages_scroll_rather_than_squash(qtbot, desktop):
    """Issue 27: the Settings page forced the window to at least 893x887 (more than a 1280x800
    screen holds below the menu bar) and squashed its rows when it could not have that."""
    bridge, tray, window, src = desktop
    window.show()
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 700
    window.resize(860, 600)
    for name, page in (("Settings", window.settings), ("Restore", window.restore), ("Status", window.status)):
        window.show_page(name)
        qtbot.waitUntil(lambda p=page: p.isVisible())
        assert page.height() >= page.minimumSizeHint().height(), name  # whole rows: the page scrolls


def test_stop_from_the_tray_or_the_status_page_ends_the_backup_and_says_so(qtbot, desktop_s3):
    """Stop while a throttled backup uploads: it ends within two seconds, plainly said (not as a
    problem), and the next backup carries on to a snapshot."""
    bridge, tray, window, src = desktop_s3
    bucket = bridge.service.bucket
    window.show()
    window.show_page("Status")
    status = window.status
    for stop in (tray.stop_action.trigger, status.stop.click):
        start = bucket.sent
        with qtbot.waitSignal(bridge.job_failed, timeout=30000, check_params_cb=lambda k, _: k == "backup") as failed:
            tray.backup_action.trigger()
            qtbot.waitUntil(lambda start=start: bucket.sent > start + 200_000, timeout=20000)
            assert tray.stop_action.isVisible() and status.stop.isVisible()
            stop()
        kind, problem = failed.args
        assert (kind, problem.kind) == ("backup", "stopped")
        assert tray.state == "idle" and tray.status_action.text() == "Backup stopped by you"
        assert status.summary.text().startswith("Stopped.") and not status.problem.isVisible()
        assert not tray.stop_action.isVisible() and not status.stop.isVisible()
    with qtbot.waitSignal(bridge.job_finished, timeout=60000) as done:
        tray.backup_action.trigger()
    assert done.args[1].snapshot_id


def test_restore_ticks_are_tri_state_and_stay_when_the_user_visits_another_page(qtbot, desktop):
    from PySide6.QtCore import Qt

    bridge, tray, window, src = desktop
    (src / "Taxes" / "2024.pdf").write_bytes(b"last year")
    page = _restore_page_with_a_backup(qtbot, desktop)
    assert page.snapshot.currentText().startswith("Backup of today ")  # a date in plain words
    assert page.goes_to.text() == f"Restores to where the files were, in {src.parent}"
    page.item("Documents/Taxes").setCheckState(0, Qt.Checked)  # a folder brings all it holds
    assert page.item("Documents/Taxes/2024.pdf").checkState(0) == Qt.Checked
    assert page.checked() == ["Documents/Taxes"]
    page.item("Documents/Taxes/2024.pdf").setCheckState(0, Qt.Unchecked)  # then one less: the folder shows it
    assert page.item("Documents/Taxes").checkState(0) == Qt.PartiallyChecked
    assert page.checked() == ["Documents/Taxes/2025.pdf"]
    window.show_page("Status")
    window.show_page("Restore")  # the list is asked again: the same backups keep the tree and its ticks
    qtbot.wait(500)
    assert page.checked() == ["Documents/Taxes/2025.pdf"]
    page.target_dir = str(src.parent / "elsewhere")
    page.original.setChecked(False)
    assert page.goes_to.text() == f"Restores into {src.parent / 'elsewhere'}"


def test_restore_finds_a_file_by_name_in_every_backup_and_ticks_it_where_it_is(qtbot, desktop):
    from PySide6.QtCore import Qt

    bridge, tray, window, src = desktop
    (src / "Taxes" / "2024.pdf").write_bytes(b"last year")  # the folder holds more than what is found
    page = _restore_page_with_a_backup(qtbot, desktop)
    (src / "Taxes" / "2025.pdf").write_bytes(b"amended")
    with qtbot.waitSignal(bridge.job_finished, timeout=30000):
        bridge.backup_now()
    page.search.setText("2025")
    page.search.returnPressed.emit()
    results = page.results
    qtbot.waitUntil(lambda: results.topLevelItemCount() == 2, timeout=10000)  # two versions
    assert page.views.currentWidget() is results
    assert {results.topLevelItem(i).text(0) for i in range(2)} == {"Documents/Taxes/2025.pdf"}
    newer, older = (results.topLevelItem(i) for i in range(2))  # the newest modification first
    assert newer.text(1) == format_bytes(len("amended")) and older.text(1) == format_bytes(200_000)
    results.itemActivated.emit(older, 0)  # the first backup is chosen, listed, and the file ticked there
    qtbot.waitUntil(lambda: page.checked() == ["Documents/Taxes/2025.pdf"], timeout=10000)
    assert page.views.currentWidget() is page.tree
    assert page.snapshot.currentIndex() == page.snapshot.count() - 1  # the older backup
    assert page.tree.currentItem().checkState(0) == Qt.Checked
    page.search.setText("")  # cleared: back to the tree, the newer version found from there too
    page.search.setText("2025")
    page.search.returnPressed.emit()
    qtbot.waitUntil(lambda: results.topLevelItemCount() == 2, timeout=10000)
    results.itemActivated.emit(results.topLevelItem(0), 0)
    qtbot.waitUntil(lambda: page.snapshot.currentIndex() == 0 and page.checked() == ["Documents/Taxes/2025.pdf"])


@pytest.mark.parametrize("desktop", [64 * 1024], indirect=True)  # many packs: a stop lands between them
def test_stop_a_restore_from_the_restore_page(qtbot, desktop, tmp_path):
    from PySide6.QtCore import Qt

    bridge, tray, window, src = desktop
    for i in range(300):
        (src / f"note{i}.txt").write_bytes(os.urandom(8000))
    page = _restore_page_with_a_backup(qtbot, desktop)
    page.tree.topLevelItem(0).setCheckState(0, Qt.Checked)
    page.target_dir = str(tmp_path / "back")
    page.original.setChecked(False)

    def stop_once_it_runs(ev) -> None:
        if ev.phase == "restoring" and page.restoring and page.restore_button.isEnabled():
            page.restore_button.click()  # reads "Stop" while restoring

    bridge.progress.connect(stop_once_it_runs)
    with qtbot.waitSignal(bridge.job_failed, timeout=30000, check_params_cb=lambda k, _: k == "restore") as failed:
        page.restore_button.click()
    assert failed.args[1].kind == "stopped"
    assert page.result.text().startswith("Stopped. The files restored so far are in place")
    assert page.restore_button.text() == "Restore" and not page.progress.isVisible()
    bridge.progress.disconnect(stop_once_it_runs)
    with qtbot.waitSignal(bridge.job_finished, timeout=30000):
        page.restore_button.click()  # again: the rest
    assert "were already there, the same" in page.result.text()
    assert_same_tree(src, tmp_path / "back" / "Documents")


def test_the_status_page_says_what_the_automatic_limit_leaves_the_household(qtbot, desktop):
    """The pacer's own status, as the bridge passes it each second."""
    from engine.meter.pacing import BandwidthStatus

    bridge, tray, window, src = desktop
    page = window.status
    steering = BandwidthStatus("Keep my internet usable", 150_000, "automatic: …", False, 96_000, line=160_000)
    page._live({"bandwidth": steering, "busy": True, "paused": False})
    said = f"Keeping your internet usable: using {format_rate(96_000)} of about {format_rate(160_000)}."
    assert page.rate.text() == said
    fixed = BandwidthStatus("512 KB/s", 512 * 1024, "fixed", False, 96_000)
    page._live({"bandwidth": fixed, "busy": True, "paused": False})
    assert page.rate.text().startswith(f"Uploading at {format_rate(96_000)}. Upload speed: 512 KB/s.")


def test_a_backup_that_would_take_weeks_over_the_line_suggests_a_seed_drive_once(qtbot, desktop):
    """The story this product exists for: 300 GB at 160 KB/s is three weeks. Said once, and not
    before the automatic limit has found the line's speed, nor for a drive's own export."""
    from engine.base.events import Progress
    from engine.service.seeding import seed_suggestion

    bridge, tray, window, src = desktop
    weeks = Progress("uploading", 10, 90_000, 20 << 20, 300 << 30, rate=160_000, eta_seconds=21 * 86400)
    assert seed_suggestion(Progress("uploading", 1, 90_000, 1 << 20, 300 << 30, rate=20_000, eta_seconds=9e6)) is None
    assert seed_suggestion(Progress("uploading", 10, 90_000, 20 << 20, 1 << 30, rate=1e6, eta_seconds=3600)) is None
    assert seed_suggestion(replace(weeks, job="seed export")) is None
    for _ in range(3):
        bridge.progress.emit(weeks)
    assert [title for title, _ in tray.said] == ["A seed drive would be faster"]
    assert "about 3 weeks over your connection (300 GB left at 156 KB/s)" in tray.said[0][1]
