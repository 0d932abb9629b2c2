"""Running Bacula jobs through bconsole and reading how they ended from the catalogue.

Every job is queued first, then waited for one by one: a client that does not answer fails its own job
(after the director's FD Connect Timeout) and never stops the others. The outcome of each job is what the
catalogue recorded (JobStatus, JobBytes, JobFiles), not what bconsole printed."""
from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .catalogue import GOOD, LEVELS

# Bacula's JobStatus codes (src/jcr.h)
STATUS = {"T": "OK", "W": "OK with warnings", "E": "error", "e": "non-fatal error", "f": "fatal error",
          "A": "cancelled", "D": "verify differences", "R": "running", "C": "created, not yet running",
          "B": "blocked", "F": "waiting for the client", "S": "waiting for the storage daemon",
          "m": "waiting for a new volume", "M": "waiting for a mount", "s": "waiting for storage resource",
          "j": "waiting for a job resource", "c": "waiting for the client resource", "d": "waiting on max jobs",
          "t": "waiting on start time", "p": "waiting on priority", "I": "incomplete"}
_QUEUED = re.compile(r"Job queued\. JobId=(\d+)")


@dataclass
class Director:
    """A director as bconsole reaches it, and its SQLite catalogue (read only)."""
    bconsole_conf: Path
    catalogue_path: Path

    def bconsole(self, commands: str, timeout: float = 120) -> str:
        proc = subprocess.run(["bconsole", "-n", "-c", str(self.bconsole_conf)], input=commands + "\nquit\n",
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"bconsole: {proc.stderr.strip() or proc.stdout[-2000:]}")
        return proc.stdout

    def catalogue(self) -> sqlite3.Connection:
        con = sqlite3.connect(f"file:{self.catalogue_path}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        return con


@dataclass
class JobOutcome:
    job: str
    client: str
    job_id: int | None = None
    status: str = ""  # Bacula's JobStatus code
    status_text: str = ""
    level: str = ""
    bytes: int = 0
    files: int = 0
    errors: int = 0
    seconds: float = 0.0
    error: str = ""  # why the job did not run or did not end well, in Bacula's words where it gave any

    @property
    def ok(self) -> bool:
        return self.status in GOOD and not self.error

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def _error_lines(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines()
             if re.search(r"Error|error:|not found|Fatal|Termination:", ln) and "quit" not in ln]
    return "; ".join(dict.fromkeys(lines))[:600]


def run_jobs(director, jobs: list[tuple[str, str]], level: str | None = None,
             timeout: float = 1800) -> list[JobOutcome]:
    """Run (job, client) pairs; one outcome per pair, in the order given."""
    outcomes, started = [], time.monotonic()
    for job, client in jobs:
        o = JobOutcome(job, client)
        outcomes.append(o)
        lvl = f" level={level}" if level else ""
        try:
            out = director.bconsole(f"run job={job}{lvl} yes", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            o.error = f"could not queue the job: {e}"
            continue
        m = _QUEUED.search(out)
        if not m:
            o.error = f"the director did not queue the job: {_error_lines(out) or out.strip()[-300:]}"
            continue
        o.job_id = int(m.group(1))
    for o in outcomes:
        if o.job_id is None:
            continue
        t = time.monotonic()
        left = max(timeout - (t - started), 1)
        try:
            director.bconsole(f"wait jobid={o.job_id}", timeout=left + 30)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            o.error = f"gave up waiting for JobId {o.job_id}: {e}"
        o.seconds = round(time.monotonic() - t, 3)
        with director.catalogue() as con:
            row = con.execute("SELECT JobStatus, Level, JobBytes, JobFiles, JobErrors FROM Job WHERE JobId = ?",
                              (o.job_id,)).fetchone()
            # the job's own messages (Messages: catalog = all), never another job's
            out = "\n".join(r["LogText"] for r in con.execute(
                "SELECT LogText FROM Log WHERE JobId = ? ORDER BY LogId", (o.job_id,)))
        if row is None:
            o.error = o.error or f"JobId {o.job_id} is not in the catalogue"
            continue
        o.status, o.level = row["JobStatus"], LEVELS.get(row["Level"], row["Level"])
        o.status_text = STATUS.get(o.status, o.status)
        o.bytes, o.files, o.errors = int(row["JobBytes"] or 0), int(row["JobFiles"] or 0), int(row["JobErrors"] or 0)
        if o.status not in GOOD and not o.error:
            o.error = _error_lines(out) or f"ended {o.status_text}"
    return outcomes
