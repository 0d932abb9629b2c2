"""node_exporter's textfile collector for the monitor: every `*.prom` file of a folder (Prometheus text
exposition, written atomically by another tool, e.g. `dcops backup metrics --textfile`) is read each cycle as
the readings of one device named after the file, so the same alert rules, store, NOC page and /metrics see
them. A file that cannot be parsed makes its device `malformed` (an alert), never a crash."""
from __future__ import annotations

import re
import time
from pathlib import Path

from .poller import DevicePoll
from .profiles import Sample

PROFILE = "textfile"
_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')
#: a metric `dcops_backup_x` is stored as `backup_x` (/metrics puts dcops_ back)
STRIP = "dcops_"


class ExpositionError(ValueError):
    pass


def _unescape(v: str) -> str:
    return v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def parse(text: str, source: str = "<text>") -> list[Sample]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        m = _LINE.match(line.strip())
        if not m:
            raise ExpositionError(f"{source}:{n}: not a sample line: {line[:80]!r}")
        name, labels_text, value = m.groups()
        labels, pos = {}, 0
        while labels_text and pos < len(labels_text):
            lm = _LABEL.match(labels_text, pos)
            if not lm:
                raise ExpositionError(f"{source}:{n}: bad labels: {labels_text[:80]!r}")
            labels[lm.group(1)] = _unescape(lm.group(2))
            pos = lm.end()
        try:
            v = float(value)
        except ValueError:
            raise ExpositionError(f"{source}:{n}: bad value {value!r}") from None
        out.append(Sample(name[len(STRIP):] if name.startswith(STRIP) else name, labels, v))
    return out


def collect(folder: Path, now: float | None = None) -> list[DevicePoll]:
    now = time.time() if now is None else now
    polls = []
    for f in sorted(Path(folder).glob("*.prom")):
        try:
            samples = parse(f.read_text(encoding="utf-8"), str(f))
        except (OSError, ExpositionError) as e:
            polls.append(DevicePoll(f.stem, PROFILE, now, True, str(e), state="malformed"))
            continue
        polls.append(DevicePoll(f.stem, PROFILE, now, True, samples=samples))
    return polls
