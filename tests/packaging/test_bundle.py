"""The frozen bundle runs with no Python environment; the login item's plist is valid and names the app."""

import os
import plistlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.datasets import assert_same_tree
from engine.jobs.smallfiles import HELPERS_FROM
from tests.e2e.test_smallfiles import small_files, watch_helpers

ROOT = Path(__file__).resolve().parents[2]
APP = "/Applications/Backbeat.app/Contents/MacOS/backbeat-app"


def test_the_launchd_agent_is_a_valid_plist_naming_the_bundles_executable():
    from engine.platform.loginitem import LABEL, launch_agent

    agent = plistlib.loads(launch_agent([APP]))
    assert agent["Label"] == LABEL and agent["ProgramArguments"] == [APP] and agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False} and agent["LimitLoadToSessionType"] == "Aqua"
    spec = (ROOT / "packaging" / "backbeat.spec").read_text()
    assert '"LSUIElement": True' in spec and "bundle_identifier=BUNDLE_ID" in spec
    assert '"NSLocationUsageDescription"' in spec  # without it macOS never asks, and never tells the Wi-Fi's name


@pytest.mark.skipif(sys.platform != "darwin", reason="launchd login items exist on macOS only")
def test_install_and_remove_the_login_item_on_macos(tmp_path):
    from app.loginitem import install, remove
    from engine.platform.loginitem import agent_path

    install(APP, home=tmp_path)
    assert plistlib.loads(agent_path(tmp_path).read_bytes())["ProgramArguments"] == [APP]
    remove(home=tmp_path)
    assert not agent_path(tmp_path).exists()


@pytest.mark.skipif(sys.platform == "darwin", reason="XDG autostart: the desktops other than macOS")
def test_elsewhere_the_login_item_is_an_xdg_autostart_entry_that_starts_the_app(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"} | {"HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "app", "--install-login-item"], capture_output=True, text=True, env=env)
    entry = tmp_path / ".config" / "autostart" / "app.backbeat.Backbeat.desktop"
    assert out.returncode == 0 and str(entry) in out.stdout
    fields = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert fields["Type"] == "Application" and fields["Exec"] == f"{sys.executable} -m app"
    out = subprocess.run([sys.executable, "-m", "app", "--remove-login-item"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and not entry.exists()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS the build makes an .app; this checks the Linux folder")
def test_the_frozen_bundle_backs_up_and_restores_without_python(tmp_path):
    build = subprocess.run(["bash", str(ROOT / "packaging" / "build.sh")], capture_output=True, text=True, cwd=ROOT)
    assert build.returncode == 0, build.stderr[-2000:]
    bundle = ROOT / "dist" / "backbeat"
    src = tmp_path / "src"
    src.mkdir()
    (src / "note.txt").write_text("frozen\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BACKBEAT_HOME": str(tmp_path / "home"),
           "BACKBEAT_PASSWORD": "frozen pass", "QT_QPA_PLATFORM": "offscreen"}  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess:
        out = subprocess.run([str(bundle / "backbeat"), *args], env=env, capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        return out

    t0 = time.perf_counter()
    assert "Backbeat" in run("--version").stdout
    started = time.perf_counter() - t0
    run("init")
    small_files(src / "many", HELPERS_FROM)  # enough for helper processes: they start as the frozen executable
    with open(tmp_path / "backup.err", "w") as err:
        backup = subprocess.Popen([str(bundle / "backbeat"), "backup", "-q", str(src)], env=env, stderr=err)
        seen = watch_helpers(backup)
        assert backup.wait() == 0, (tmp_path / "backup.err").read_text()
    assert seen, "no helper process read the small files"
    run("restore", "latest", "--target", str(tmp_path / "back"))
    assert_same_tree(src, tmp_path / "back" / "src")
    app = subprocess.run([str(bundle / "backbeat-app"), "--startup-time"], env=env, capture_output=True, text=True)
    assert "ready" in app.stdout, app.stderr[-2000:]
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    print(f"bundle {size / 2**20:.0f} MiB, backbeat --version in {started:.2f} s")
    assert "VIRTUAL_ENV" not in env and not os.environ.get("PYTHONHOME")
