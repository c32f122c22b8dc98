import io

from engine.base.events import FileSkipped
from engine.base.progress import Meter
from engine.cli.progress import ProgressPrinter
from tests.manual_clock import ManualClock


def test_meter_rate_and_eta_follow_recent_work():
    clock = ManualClock()
    meter = Meter(clock, files_total=10, bytes_total=1000)
    assert meter.event("backing up").eta_seconds is None
    for _ in range(5):
        clock.now += 1
        meter.add(100, files=1)
        ev = meter.event("backing up")
    assert ev.rate == 100 and ev.eta_seconds == 5 and ev.files_done == 5


def test_printer_draws_bar_rate_and_eta_and_prints_warnings(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = io.StringIO()
    printer = ProgressPrinter(out, live=True)
    clock = ManualClock()
    meter = Meter(clock, 100, 10 << 20)
    meter.event("backing up")
    clock.now += 2
    meter.add(5 << 20, files=40)
    printer.draw(meter.event("backing up"))
    printer(FileSkipped("/x/locked.txt", "cannot read it (Permission denied)"))
    text = out.getvalue()
    assert "[##########----------]  50%" in text and "40/100 files" in text
    assert "5.0 MB of 10.0 MB" in text and "2.5 MB/s" in text and "2 s left" in text
    assert "warning: /x/locked.txt: cannot read it (Permission denied)" in text


def test_the_printer_shows_every_new_phase_at_once():
    """A fast run changes phase within a tenth of a second: the new phase is drawn even so."""
    import io

    from engine.base.events import Progress
    from engine.cli.progress import ProgressPrinter

    out = io.StringIO()
    printer = ProgressPrinter(out, live=True)
    printer(Progress("scanning", 0, 0, 0, 0))
    printer(Progress("backing up", 1, 10, 100, 1000))
    printer(Progress("backing up", 2, 10, 200, 1000))  # same phase, within 0.1 s: not drawn again
    assert "scanning" in out.getvalue() and out.getvalue().count("backing up: [") == 1
