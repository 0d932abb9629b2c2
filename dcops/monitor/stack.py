"""Start Debian's Prometheus and Alertmanager binaries on loopback from a generated bundle (scaleout.py).

For `dcops demo --stack prometheus` and the tests: the binaries are started directly with temporary data
folders and 127.0.0.1 listen addresses — never the packaged systemd services — and each handle is stopped
by its PID (SIGTERM, then SIGKILL after a grace period).
"""
from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from .launch import ProcHandle, free_tcp_port

PROMETHEUS_BIN = ("prometheus",)
ALERTMANAGER_BIN = ("prometheus-alertmanager", "alertmanager")


class StackError(RuntimeError):
    pass


def find_binary(names: tuple[str, ...]) -> str:
    for n in names:
        path = shutil.which(n)
        if path:
            return path
    raise StackError(f"{names[0]} is not installed (./bootstrap.sh installs Debian's package)")


def _wait_ready(h: ProcHandle, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if h.proc.poll() is not None:
            raise StackError(f"{what} exited: {h.log.read_text(errors='replace')[-800:]}")
        try:
            with urllib.request.urlopen(h.url + "/-/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise StackError(f"{what} on {h.url} was not ready within {timeout:.0f} s")


def _start(args: list[str], log: Path, url: str, what: str, timeout: float) -> ProcHandle:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    h = ProcHandle(proc, log, url)
    try:
        _wait_ready(h, what, timeout)
    except BaseException:
        h.stop()
        raise
    return h


def start_alertmanager(config: Path, workdir: Path, port: int | None = None, timeout: float = 60) -> ProcHandle:
    """One Alertmanager, no clustering (no gossip port), data in `workdir`."""
    port = port or free_tcp_port()
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    return _start([find_binary(ALERTMANAGER_BIN), f"--config.file={config}", f"--storage.path={workdir / 'am-data'}",
                   f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                  workdir / "alertmanager.log", url, "Alertmanager", timeout)


def start_prometheus(config: Path, workdir: Path, port: int | None = None, timeout: float = 60) -> ProcHandle:
    port = port or free_tcp_port()
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    return _start([find_binary(PROMETHEUS_BIN), f"--config.file={config}",
                   f"--storage.tsdb.path={workdir / 'prom-data'}", f"--web.listen-address=127.0.0.1:{port}"],
                  workdir / "prometheus.log", url, "Prometheus", timeout)
