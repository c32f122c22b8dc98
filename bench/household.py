#!/usr/bin/env python3
"""Backbeat on an emulated household line: 1.3 Mbit/s up, a modem that queues about one second.

    sudo .venv/bin/python bench/household.py [--seconds 60] [--modes unlimited,fixed,automatic] [--pause-test]

Two network namespaces, "home" and "internet", joined by a veth pair; the home side's egress is
a `tc tbf` at 1.3 Mbit/s with a 160 kB queue (a DSL modem). The real S3 server (rclone serve s3)
and a TCP echo server run in "internet"; a backup of random data runs in "home", while a probe
in "home" sends a 64-byte request to the echo server every 100 ms on one connection (the
household's web page) and measures its round-trip time. For each mode it prints one JSON line:
seconds measured, bytes the backup sent (TCP payload) and on the wire, link utilization by the
backup (its frames / line capacity; over the first 5 and 15 s; and how many seconds it took to
use 90% of the line over one second), probe RTT p50/p95 during the backup and at idle before it,
and the automatic limit's own link probe as a share of the line (`link_probe_share`).
Fixed mode also reports the worst 10 s window's deviation from its setting; `--pause-test`
pauses the automatic-mode backup with `backbeat pause` and reports how long the line took to go
quiet (and to come back after `backbeat resume`). Needs root and network namespaces: without
them it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from engine.meter.linkrtt import WIRE_BYTES  # noqa: E402
from tests.s3server import ACCESS_KEY, SECRET_KEY, rclone  # noqa: E402

LINE_BPS = 1_300_000
CAPACITY = LINE_BPS / 8  # bytes per second on the wire
QUEUE = 160_000  # bytes: about one second of the line, like a DSL modem
FIXED = int(CAPACITY * 0.8)
FRAME_OVERHEAD = 66  # Ethernet 14 + IPv4 20 + TCP with timestamps 32
PROBE_BYTES = 64
SEGMENT_SEEN = 1000  # payload bytes that are surely data, not a probe counted at a window's edge
#: the benchmarking range (RFC 2544): across a "line", as a provider's server is; a private range
#: would be the local network, which the automatic limit rightly leaves unlimited (engine.meter.nearby)
HOME_IP, NET_IP = "198.18.0.1", "198.18.0.2"
S3_PORT, ECHO_PORT = 9000, 7007
MODES = {"unlimited": "off", "fixed": str(FIXED), "automatic": "auto"}


# -- helpers that run inside the namespaces (this script, re-invoked) ------------------------------
def echo_server(port: int) -> None:
    srv = socket.create_server((NET_IP, port), reuse_port=True)

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def home_agent(dev: str) -> None:
    """Probe RTTs and the uplink's counters, as JSON lines on stdout (wall-clock times)."""
    out_lock = threading.Lock()

    def emit(doc: dict) -> None:
        with out_lock:
            sys.stdout.write(json.dumps(doc) + "\n")
            sys.stdout.flush()

    def counters() -> None:
        stats = Path(f"/sys/class/net/{dev}/statistics")
        while True:
            emit(
                {
                    "t": time.time(),
                    "tx": int((stats / "tx_bytes").read_text()),
                    "pk": int((stats / "tx_packets").read_text()),
                }
            )
            time.sleep(0.05)

    threading.Thread(target=counters, daemon=True).start()
    conn = socket.create_connection((NET_IP, ECHO_PORT))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = b"p" * PROBE_BYTES
    tick = time.monotonic()
    while True:
        t0 = time.monotonic()
        conn.sendall(payload)
        got = 0
        while got < PROBE_BYTES:
            got += len(conn.recv(PROBE_BYTES - got))
        emit({"t": time.time(), "rtt": (time.monotonic() - t0) * 1000})
        tick += 0.1
        time.sleep(max(0.0, tick - time.monotonic()))


# -- the household ----------------------------------------------------------------------------------
def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


class Household:
    """The two namespaces, the line between them (its upload always; its download when given: a
    restore's line) and the servers on the "internet" side."""

    def __init__(self, work: Path, down_bps: int = 0, down_queue: int = 0) -> None:
        self.down_bps, self.down_queue = down_bps, down_queue
        tag = f"{os.getpid() % 100000}"
        self.home, self.net = f"bbh-home-{tag}", f"bbh-net-{tag}"
        self.dev_home, self.dev_net = f"bbh{tag}h", f"bbh{tag}n"
        self.work = work
        self.s3root = work / "s3"
        self.procs: list[subprocess.Popen] = []

    def ns(self, name: str, cmd: list[str], **kw) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", name, *cmd], **kw)
        self.procs.append(proc)
        return proc

    def __enter__(self) -> Household:
        try:
            return self._build()
        except BaseException:  # a line this kernel cannot make, a server that never listens: none left behind
            self.__exit__()
            raise

    def _build(self) -> Household:
        run(["ip", "netns", "add", self.home])
        run(["ip", "netns", "add", self.net])
        run(
            [
                "ip",
                "link",
                "add",
                self.dev_home,
                "netns",
                self.home,
                "type",
                "veth",
                "peer",
                "name",
                self.dev_net,
                "netns",
                self.net,
            ]
        )
        for ns, dev, ip in ((self.home, self.dev_home, HOME_IP), (self.net, self.dev_net, NET_IP)):
            run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "netns", "exec", self.home, "tc", "qdisc", "add", "dev", self.dev_home, "root", "tbf",
             "rate", f"{LINE_BPS // 1000}kbit", "burst", str(max(4096, LINE_BPS // 8 // 100)),
             "limit", str(QUEUE)])  # fmt: skip
        if self.down_bps:  # the provider's side queues what comes down
            run(["ip", "netns", "exec", self.net, "tc", "qdisc", "add", "dev", self.dev_net, "root", "tbf",
                 "rate", f"{self.down_bps // 1000}kbit", "burst", str(max(4096, self.down_bps // 8 // 100)),
                 "limit", str(self.down_queue)])  # fmt: skip
        for mode in MODES:
            (self.s3root / mode).mkdir(parents=True, exist_ok=True)
        self.ns(self.net, [rclone(), "serve", "s3", "--addr", f"{NET_IP}:{S3_PORT}", "--auth-key",
                           f"{ACCESS_KEY},{SECRET_KEY}", str(self.s3root)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        self.ns(self.net, [sys.executable, __file__, "--echo"])
        self._wait_port(S3_PORT)
        self._wait_port(ECHO_PORT)
        return self

    def _wait_port(self, port: int) -> None:
        code = f"import socket;socket.create_connection(('{NET_IP}',{port}),timeout=1)"
        for _ in range(100):
            if (
                subprocess.run(
                    ["ip", "netns", "exec", self.home, sys.executable, "-c", code], capture_output=True
                ).returncode
                == 0
            ):
                return
            time.sleep(0.2)
        raise RuntimeError(f"nothing listens on {NET_IP}:{port}")

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for ns in (self.home, self.net):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class Agent:
    """The home agent's stream, collected in the background."""

    def __init__(self, house: Household) -> None:
        self.proc = house.ns(
            house.home, [sys.executable, __file__, "--agent", house.dev_home], stdout=subprocess.PIPE, text=True
        )
        self.rtts: list[tuple[float, float]] = []
        self.counts: list[tuple[float, int, int]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            doc = json.loads(line)
            if "rtt" in doc:
                self.rtts.append((doc["t"], doc["rtt"]))
            else:
                self.counts.append((doc["t"], doc["tx"], doc["pk"]))

    def rtt_between(self, a: float, b: float) -> list[float]:
        return [r for t, r in self.rtts if a <= t <= b]

    def count_at(self, t: float) -> tuple[int, int]:
        """(wire bytes, packets) sent by the home side up to time t."""
        best = self.counts[0]
        for c in self.counts:
            if c[0] > t:
                break
            best = c
        return best[1], best[2]

    def backup_bytes(self, a: float, b: float) -> tuple[float, float]:
        """(TCP payload, wire bytes) the backup sent between a and b: everything but the probe."""
        (w0, p0), (w1, p1) = self.count_at(a), self.count_at(b)
        probes = len(self.rtt_between(a, b))
        wire = (w1 - w0) - probes * (PROBE_BYTES + FRAME_OVERHEAD)
        payload = (w1 - w0) - FRAME_OVERHEAD * (p1 - p0) - probes * PROBE_BYTES
        return max(0.0, payload), max(0.0, wire)


def seconds_to_line(agent: Agent, first: float, end: float, share: float = 0.9) -> float | None:
    """Seconds from the first upload to the end of the first one-second window in which the backup
    used `share` of the line (None: never): how soon a fast line is used."""
    t = first
    while t + 1 <= end:
        if agent.backup_bytes(t, t + 1)[1] >= share * CAPACITY:
            return round(t + 1 - first, 2)
        t += 0.25
    return None


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else float("nan")


class Backbeat:
    """The CLI in the home namespace, with an installation of its own."""

    def __init__(self, house: Household, mode: str) -> None:
        self.house = house
        self.env = {
            **os.environ,
            "BACKBEAT_HOME": str(house.work / f"home-{mode}"),
            "BACKBEAT_PASSWORD": "household",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }
        self.repo = f"s3:http://{NET_IP}:{S3_PORT}/{mode}/repo"

    def cmd(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.house.home, sys.executable, "-m", "engine", *args]

    def run(self, *args: str) -> None:
        run(self.cmd(*args), env=self.env, cwd=HERE.parent)

    def start_backup(self, src: Path) -> subprocess.Popen:
        return subprocess.Popen(self.cmd("backup", "--repo", self.repo, "-q", str(src)), env=self.env, cwd=HERE.parent,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip

    def pause_file(self) -> Path:
        return Path(self.env["BACKBEAT_HOME"]) / "paused"


def wait_for_upload(agent: Agent, since: float, timeout: float = 60) -> float:
    """The moment the backup's first 20 kB of payload had crossed the line."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = time.time()
        if agent.backup_bytes(since, now)[0] > 20_000:
            return now
        time.sleep(0.1)
    raise RuntimeError("the backup sent nothing")


def fixed_windows(agent: Agent, start: float, end: float) -> float:
    """Worst deviation of the payload rate from the fixed setting over 10 s windows, 1 s apart."""
    worst, t = 0.0, start
    while t + 10 <= end:
        payload, _ = agent.backup_bytes(t, t + 10)
        worst = max(worst, abs(payload / 10 - FIXED) / FIXED)
        t += 1
    return worst


def pause_test(agent: Agent, bb: Backbeat) -> dict:
    """Pause while uploading: when did the backup's bytes stop crossing the line, and come back?"""
    bb.run("pause")
    paused_at = bb.pause_file().stat().st_mtime
    time.sleep(3)
    last = paused_at  # the last moment at which a segment of the backup's data crossed the line
    for t, _w, _p in agent.counts:
        if t > paused_at and agent.backup_bytes(last, t)[0] >= SEGMENT_SEEN:
            last = t
    after_1s = agent.backup_bytes(paused_at + 1, time.time())[0]
    after_1s = after_1s if after_1s >= SEGMENT_SEEN else 0
    bb.run("resume")
    resumed_at = time.time()
    time.sleep(2)
    back = None
    for t, _w, _p in agent.counts:
        if t > resumed_at and agent.backup_bytes(resumed_at, t)[0] > 5_000:
            back = t - resumed_at
            break
    return {
        "pause_stopped_s": round(last - paused_at, 2),
        "bytes_after_1s": int(after_1s),
        "resume_s": back and round(back, 2),
    }


def run_mode(
    house: Household,
    agent: Agent,
    mode: str,
    seconds: float,
    src: Path,
    baseline: list[float],
    pause: bool,
    trace: bool = False,
) -> dict:
    bb = Backbeat(house, mode)
    bb.run("init", "--repo", bb.repo)
    bb.run("limit", MODES[mode])
    started = time.time()
    proc = bb.start_backup(src)
    if trace:
        threading.Thread(target=trace_activity, args=(bb, proc, agent), daemon=True).start()
    first = wait_for_upload(agent, started)
    time.sleep(seconds)
    end = time.time()
    doc = {"mode": mode, "limit": MODES[mode]}
    probes = _link_probes(bb)  # before the end: the backup clears what it publishes
    if pause:
        doc |= pause_test(agent, bb)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    payload, wire = agent.backup_bytes(first, end)
    rtts = agent.rtt_between(first, end)
    doc |= {
        "seconds": round(end - first, 1),
        "bytes_sent": int(payload),
        "wire_bytes": int(wire),
        "utilization": round(wire / (CAPACITY * (end - first)), 3),
        # how soon the line is used: what a fast line's user feels first
        "utilization_first_5s": round(agent.backup_bytes(first, first + 5)[1] / (CAPACITY * 5), 3),
        "utilization_first_15s": round(agent.backup_bytes(first, first + 15)[1] / (CAPACITY * 15), 3),
        "seconds_to_90pct": seconds_to_line(agent, first, end),
        "probe_p50_ms": round(pct(rtts, 50), 1),
        "probe_p95_ms": round(pct(rtts, 95), 1),
        "probe_max_ms": round(max(rtts), 1),
        "baseline_p50_ms": round(pct(baseline, 50), 2),
        "baseline_p95_ms": round(pct(baseline, 95), 2),
    }
    if probes is not None:  # Backbeat's own link probe (handshakes), as a share of the line
        doc["link_probe_share"] = round(probes * WIRE_BYTES * 8 / (LINE_BPS * (end - first)), 4)
    if mode == "fixed":
        doc["fixed_worst_10s_error"] = round(fixed_windows(agent, first + 2, end), 4)
    return doc


def _link_probes(bb: Backbeat) -> int | None:
    """Handshakes the automatic limit's link probe made so far (None: not probing)."""
    try:
        doc = json.loads((Path(bb.env["BACKBEAT_HOME"]) / "activity.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return doc.get("link_probes") or None


def trace_activity(bb: Backbeat, proc: subprocess.Popen, agent: Agent) -> None:
    """Once a second, to stderr: what the running backup says of its pace, beside the probe's last RTTs."""
    path = Path(bb.env["BACKBEAT_HOME"]) / "activity.json"
    while proc.poll() is None:
        time.sleep(1)
        try:
            doc = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            continue
        now = time.time()
        rtts = agent.rtt_between(now - 1, now)
        print(f"{doc['reason']:<50} sent {doc['upload_rate']/1000:6.1f} kB/s  probe max {max(rtts, default=0):6.1f} ms",
              file=sys.stderr)  # fmt: skip


def make_source(path: Path, mb: int) -> Path:
    rnd = random.Random(5)
    path.mkdir(parents=True)
    for i in range(mb // 8):
        (path / f"photo-{i:03d}.jpg").write_bytes(rnd.randbytes(8 << 20))  # incompressible: every byte travels
    return path


def namespaces_available() -> str | None:
    """None if this machine can build the household, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and tc)"
    if not shutil.which("ip") or not shutil.which("tc"):
        return "needs the ip and tc commands (iproute2)"
    probe = f"bbh-probe-{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        return "cannot create network namespaces here"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _line(mbit: float, queue_s: float) -> None:
    """Another line than the default DSL one (the figures of the speed issue: 20 and 100 Mbit/s)."""
    global LINE_BPS, CAPACITY, QUEUE, FIXED
    LINE_BPS = int(mbit * 1_000_000)
    CAPACITY = LINE_BPS / 8
    QUEUE = int(CAPACITY * queue_s)
    FIXED = int(CAPACITY * 0.8)
    MODES["fixed"] = str(FIXED)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--modes", default="unlimited,fixed,automatic")
    ap.add_argument("--pause-test", action="store_true", help="pause and resume the automatic-mode backup")
    ap.add_argument("--trace", action="store_true", help="print the backup's pace once a second (stderr)")
    ap.add_argument("--source-mb", type=int, default=0, help="size of the random source (default: enough)")
    ap.add_argument("--line-mbit", type=float, default=1.3, help="the line's upload speed (a fast line: 20, 100)")
    ap.add_argument("--queue-s", type=float, default=0.98, help="the modem's queue, in seconds of the line")
    ap.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--agent", metavar="DEV", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.echo:
        echo_server(ECHO_PORT)
        return 0
    if args.agent:
        home_agent(args.agent)
        return 0
    _line(args.line_mbit, args.queue_s)
    why = namespaces_available()
    if why:
        print(json.dumps({"skipped": why}))
        return 0
    with tempfile.TemporaryDirectory(prefix="household-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        src = make_source(
            work / "src", args.source_mb or max(16, int(CAPACITY * (args.seconds + 30) / 2**20 // 8 + 1) * 8)
        )
        with Household(work) as house:
            agent = Agent(house)
            time.sleep(3)
            baseline = [r for _, r in agent.rtts]
            for mode in args.modes.split(","):
                pause = args.pause_test and mode == "automatic"
                print(
                    json.dumps(run_mode(house, agent, mode, args.seconds, src, baseline, pause, args.trace)), flush=True
                )
                time.sleep(3)  # let the modem's queue drain between modes
    return 0


if __name__ == "__main__":
    sys.exit(main())
