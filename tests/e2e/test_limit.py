"""A fixed upload limit holds on network destinations and never slows a local folder."""

import os


def test_limit_meters_uploads_to_s3_and_not_local_folders(cli, s3_repo, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "photo.jpg").write_bytes(os.urandom(3 << 20))  # incompressible: 3 MiB to send
    cli("init", "--repo", s3_repo, repo=False)
    limited = cli.json("backup", str(src), "--limit", "1M", "--repo", s3_repo, repo=False)
    expected = limited["bytes_added"] / (1 << 20)  # seconds at 1 MiB/s
    assert expected >= 3
    assert 0.9 * expected <= limited["duration"] <= 1.3 * expected + 1.0

    cli("init")
    local = cli.json("backup", str(src), "--limit", "1M")
    assert local["duration"] < 0.5 * expected  # local folders and seed drives are never throttled
    assert "RATE" in cli("backup", "--help", repo=False).stdout
    assert "not a rate" in cli("backup", str(src), "--limit", "fast", ok=(2,)).stderr
