"""Live progress of a drill from ansible-runner events: current task, hosts, elapsed, counts."""
from __future__ import annotations

import time
from collections import Counter, deque

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

_STYLE = {"ok": "green", "changed": "yellow", "failed": "bold red", "unreachable": "bold red",
          "skipped": "dim", "ignored": "magenta"}


class DrillProgress:
    """Callable handed to the runner; renders a Live view on a terminal, plain lines otherwise."""

    def __init__(self, drill: str, console: Console | None = None, *, live: bool | None = None):
        self.console = console or Console(stderr=True)
        self.drill = drill
        self.t0 = time.monotonic()
        self.playbook = ""
        self.task = ""
        self.hosts: set[str] = set()
        self.counts: Counter = Counter()
        self.recent: deque = deque(maxlen=8)
        self.live_enabled = self.console.is_terminal if live is None else live
        self._live: Live | None = None

    def __enter__(self) -> "DrillProgress":
        if self.live_enabled:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live:
            self._live.update(self._render())
            self._live.__exit__(*exc)

    def elapsed(self) -> str:
        s = time.monotonic() - self.t0
        return f"{int(s // 60):02d}:{s % 60:05.2f}"

    def __call__(self, kind: str, data: dict) -> None:
        if kind == "playbook":
            self.playbook = data["playbook"] + (" (check mode)" if data.get("check") else "")
            self._line(f"▶ {self.playbook}")
        elif kind == "task":
            self.task, self.hosts = data["task"], set()
        elif kind == "host":
            self.hosts.add(data["host"])
        elif kind == "result":
            step = data["step"]
            status = "changed" if step.status == "ok" and step.changed else step.status
            self.counts[status] += 1
            self.hosts.discard(step.host)
            self.recent.append((self.elapsed(), status, step.host, step.task, step.message))
            if not self._live:
                msg = f" — {step.message.splitlines()[0][:120]}" if step.message and status in ("failed", "unreachable") else ""
                self._line(f"[{self.elapsed()}] {status:<11} {step.host:<16} {step.task}{msg}")
        elif kind == "note":
            self._line(data["text"])
        if self._live:
            self._live.update(self._render())

    def _line(self, text: str) -> None:
        if self._live:
            self._live.console.print(text)
        else:
            self.console.print(text, highlight=False, markup=False)

    def _render(self):
        head = Table.grid(padding=(0, 2))
        head.add_row(Text(f"drill {self.drill}", style="bold"), Text(self.elapsed()), Text(self.playbook, style="cyan"))
        head.add_row(Text("task"), Text(self.task or "—"), Text(", ".join(sorted(self.hosts)) or "", style="dim"))
        head.add_row(Text("results"), Text("  ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "—"), Text(""))
        tail = Table(show_header=True, header_style="bold", box=None, expand=False)
        for col in ("elapsed", "status", "host", "task"):
            tail.add_column(col)
        for el, status, host, task, _ in self.recent:
            tail.add_row(el, Text(status, style=_STYLE.get(status, "")), host, task)
        return Group(head, tail)
