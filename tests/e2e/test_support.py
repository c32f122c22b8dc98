"""What support gets: a stable computer ID, capped logs, and a bundle with everything and no secret in it."""

import logging
import zipfile

from engine.base.logs import _Rotating
from tests.conftest import PASSWORD
from tests.s3server import SECRET_KEY


def test_the_computer_id_is_stable_and_unique_per_installation(cli, tmp_path):
    first = cli.json("about", repo=False)["Computer ID"]
    assert cli.json("about", repo=False)["Computer ID"] == first
    other = cli.json("about", repo=False, env={"BACKBEAT_HOME": str(tmp_path / "other")})["Computer ID"]
    assert other != first and len(first) == 36


def test_log_rotation_keeps_the_cap(tmp_path):
    handler = _Rotating(tmp_path / "backbeat.log", max_bytes=2000, keep=3)
    logger = logging.getLogger("test-rotation")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    for i in range(500):
        logger.info("line %d %s", i, "x" * 80)
    handler.close()
    files = list(tmp_path.glob("backbeat.log*"))
    assert 2 <= len(files) <= 4  # the live file and at most `keep` old ones
    assert all(f.stat().st_size <= 2000 + 200 for f in files)


def test_no_secret_in_logs_settings_or_the_bundle(cli, s3_repo, tmp_path, backbeat_home):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    cli("init", "--repo", s3_repo, repo=False)
    cli("limit", "off", repo=False)
    cli("backup", str(src), "--repo", s3_repo, "--verbose", repo=False)
    bad = s3_repo.replace("/repo", "/elsewhere").replace("b-test", "no-such")
    cli("backup", str(src), "--repo", bad, repo=False, ok=(1,))  # a failure is logged too
    bundle = tmp_path / "bundle.zip"
    out = cli.json("support-bundle", "--repo", s3_repo, "--output", str(bundle), repo=False)
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        contents = b"".join(z.read(n) for n in names)
    for item in ("about.txt", "destinations.txt", "settings.json", "history.json", "check.txt", "REDACTED.txt"):
        assert item in names
    assert any(n.startswith("logs/") for n in names)
    assert b"Computer ID" in contents and b"no problems found" in contents and s3_repo.encode() in contents
    assert out["bytes"] < 200_000
    written = contents + b"".join(
        p.read_bytes() for p in backbeat_home.rglob("*") if p.is_file() and p.suffix != ".sqlite"
    )
    for secret in (PASSWORD, SECRET_KEY):
        assert secret.encode() not in written, f"{secret!r} leaked"
    log_text = (backbeat_home / "logs" / "backbeat.log").read_text()
    assert "backup at" in log_text and "failed" in log_text
