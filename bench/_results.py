"""Where a bench script leaves its figures: bench/results/<bench>.json, read by `dcops docs refresh`.

The file says what was measured, when, and on what machine, so a figure in the README can always be
traced to one run of one script."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def record(bench: str, figures: dict, *, notes: str = "") -> Path:
    """Write the figures of this run (atomically) and return the path."""
    RESULTS.mkdir(exist_ok=True)
    doc = {
        "bench": bench,
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model(), "python": platform.python_version(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "notes": notes,
        "figures": figures,
    }
    path = RESULTS / f"{bench}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
