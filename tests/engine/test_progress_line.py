"""The terminal's progress line fits its width without cutting a number, and says why it is held."""

import re

import pytest

from engine.base.events import Progress
from engine.cli.progress import progress_line

UPLOADING = Progress("uploading", 12, 400, 119_000_000, 306_000_000, rate=601_000, eta_seconds=507)
NUMBER_CUT = re.compile(r"\d$|\d\.$")  # a line ending in a digit may be a number cut short


@pytest.mark.parametrize("width", range(16, 130))
def test_every_width_gets_whole_fields_only(width):
    line = progress_line(UPLOADING, width)
    assert len(line) <= width
    assert line.endswith(("%", "left", "MB", "KB/s", "files")), line
    assert not NUMBER_CUT.search(line)


def test_the_least_useful_fields_go_first():
    assert progress_line(UPLOADING, 200).endswith("12/400 files")
    at_80 = progress_line(UPLOADING, 80)
    assert "files" not in at_80 and "KB/s" not in at_80 and "left" in at_80
    assert progress_line(UPLOADING, 40) == "uploading:  39%  8 min 27 s left"  # the bar before the time left


def test_a_held_upload_says_why_in_place_of_rate_and_time_left():
    held = Progress(
        "uploading", 12, 400, 119_000_000, 306_000_000, rate=0, eta_seconds=None, held="paused by you until 14:00"
    )
    line = progress_line(held, 80)
    assert "paused by you until 14:00" in line and "left" not in line and "/s" not in line
    assert "paused by you until 14:00" in progress_line(held, 60)
