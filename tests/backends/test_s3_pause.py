"""An upload paused longer than a server waits for a silent client closes its request, and sends it whole after."""

import os
import threading
import time

from engine.backends import s3
from engine.backends.location import open_location
from engine.backends.ratelimit import TokenBucket
from tests.backends.conformance import PACK


def test_a_long_pause_closes_the_request_and_resume_sends_the_object_whole(s3_repo, tmp_path, monkeypatch):
    monkeypatch.setattr(s3, "_HOLD_WHILE_PAUSED", 0.5)  # S3 drops a silent request after ~20 s; 15 s in the product
    bucket = TokenBucket(400_000)
    backend = open_location(s3_repo, None, bucket=bucket)
    data = os.urandom(1 << 20)
    path = tmp_path / "pack"
    path.write_bytes(data)
    errors = []

    def upload():
        try:
            backend.put_file(PACK, str(path))
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append(e)

    t = threading.Thread(target=upload)
    t.start()
    time.sleep(0.8)
    bucket.set_rate(0)
    paused_at = bucket.sent
    time.sleep(2.0)
    assert t.is_alive(), "the upload must wait for the pause to end, not fail"
    assert bucket.sent - paused_at <= 2 * 1448  # nothing but the slices already granted
    bucket.set_rate(None)
    t.join(30)
    assert not errors
    assert backend.get(PACK) == data
    assert bucket.sent > len(data)  # the request that was closed was sent again from its start
