"""Run `dcops demo` as a user would (a foreground process), read its announcement, stop it."""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PASSWORD = "e2e-demo-pass-123"


@dataclass
class DemoProc:
    proc: subprocess.Popen
    lab_name: str
    lines: list[str] = field(default_factory=list)
    url: str | None = None

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def state(self) -> dict:
        from dcops.demo import labstate
        return labstate.read(self.lab_name)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            for ln in list(self.lines):
                m = rx.search(ln)
                if m:
                    return m
            if self.proc.poll() is not None:
                time.sleep(0.3)  # let the reader thread drain
                for ln in list(self.lines):
                    if m := rx.search(ln):
                        return m
                raise AssertionError(f"demo exited ({self.proc.returncode}) before {pattern!r}:\n{self.output}")
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} after {timeout} s:\n{self.output}")

    def stop(self, sig=signal.SIGINT, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def dcops(*args, env=None, timeout=180, check=True) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "dcops.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})})
    if check:
        assert p.returncode == 0, f"dcops {' '.join(map(str, args))} → {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture
def start_demo():
    """start_demo(*extra_args) -> DemoProc, ready (dashboard URL printed). Always stopped and cleaned up."""
    started: list[DemoProc] = []

    def start(*extra: str, ready_timeout: float = 150, wait_ready: bool = True) -> DemoProc:
        name = f"dce{secrets.token_hex(2)}"
        env = {**os.environ, "DCOPS_DEMO_PASSWORD": PASSWORD, "COLUMNS": "220", "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "dcops.cli", "demo", "--lab-name", name, "--port", "0",
                                 "--interval", "2", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env)
        d = DemoProc(proc, name)
        started.append(d)
        threading.Thread(target=lambda: [d.lines.append(ln.rstrip("\n")) for ln in proc.stdout], daemon=True).start()
        if wait_ready:
            d.url = d.wait_for(r"NOC dashboard: (http://\S+?)/?\s", ready_timeout).group(1).rstrip("/")
        return d

    yield start
    from dcops.lab.builder import teardown
    for d in started:
        d.stop(signal.SIGKILL if d.proc.poll() is None else signal.SIGINT, timeout=5)
        teardown(d.lab_name)  # whatever the test left (a no-op when the demo cleaned up)


def recorded(state: dict) -> tuple[list[str], list[dict]]:
    return list(state["namespaces"]), list(state["processes"])


def assert_nothing_left(namespaces: list[str], processes: list[dict], prefix: str) -> None:
    from dcops.lab import netns, procs
    present = set(netns.list_namespaces())
    assert not [n for n in namespaces if n in present], "namespaces left behind"
    assert not [n for n in present if n.startswith(prefix)], "namespaces with the demo prefix left behind"
    alive = [p for p in processes if procs.alive(p["pid"], p.get("start"))]
    assert not alive, f"processes left behind: {json.dumps(alive)}"
    from dcops.demo.orchestrator import marked_processes
    lab_name = prefix.rstrip("-")
    assert not marked_processes(lab_name), f"unrecorded processes of demo {lab_name} left behind"


def shot_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get("DCOPS_SCREENSHOT_DIR") or tmp_path / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d
