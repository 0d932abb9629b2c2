"""A restore that proves itself: Bacula restores into a staging folder, and every file is checked against the
SHA-1 the file daemon recorded in the catalogue at backup time. Only a verified restore may be moved onto a
target (the drills' job); a bad volume ends here, with the storage daemon's own words."""
from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..model.bacula import magazine_of
from .catalogue import GOOD

_ERR = re.compile(r"(Error:.*|Fatal error:.*|Block checksum mismatch.*|Results=.*|Termination:\s+\*\*\*.*)")
#: a row of bconsole's `status slots` table: | slot | volume | status | media type | pool |
_SLOT = re.compile(r"^\|\s*(\d+)\s*\|\s*\*?([^|\s]*)\s*\|", re.M)


@dataclass
class RestoreResult:
    ok: bool
    job_id: int | None
    staging: Path
    seconds: float
    files_checked: int = 0
    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: path -> catalogue digest the restore was checked against; bytes the restore job wrote
    expected: dict[str, str] = field(default_factory=dict)
    bytes: int = 0

    @property
    def reason(self) -> str:
        if self.errors:
            return "restore failed: " + "; ".join(self.errors[:3])
        if self.mismatched or self.missing:
            return (f"restored data differs from the catalogue: {len(self.mismatched)} file(s) with another "
                    f"checksum, {len(self.missing)} missing")
        return "restored and verified against the catalogue"


def catalogue_digest(data: bytes) -> str:
    """The form Bacula stores a file's SHA-1 in: base64 without padding."""
    return base64.b64encode(hashlib.sha1(data).digest()).rstrip(b"=").decode()


def expected_files(con, client: str) -> dict[str, str]:
    """path -> digest of the newest version of every file the client's good backups hold."""
    rows = con.execute(
        "SELECT Path.Path || Filename.Name AS path, File.MD5 AS digest FROM File "
        "JOIN Path USING (PathId) JOIN Filename USING (FilenameId) JOIN Job USING (JobId) "
        "JOIN Client USING (ClientId) "
        f"WHERE Client.Name = ? AND Job.Type = 'B' AND Job.JobStatus IN ({','.join('?' * len(GOOD))}) "
        "AND Filename.Name != '' ORDER BY Job.EndTime, File.FileIndex", (client, *GOOD)).fetchall()
    return {r["path"]: r["digest"] for r in rows}


def volumes_needed(con, client: str) -> list[dict]:
    """The cartridges a restore of the client's current data reads (`select current`: the newest good full and
    the good jobs after it), with the slot and library the catalogue places each in."""
    good = f"Job.Type = 'B' AND Job.JobStatus IN ({','.join('?' * len(GOOD))})"
    full = con.execute(f"SELECT MAX(JobId) FROM Job JOIN Client USING (ClientId) WHERE Client.Name = ? AND {good} "
                       "AND Job.Level = 'F'", (client, *GOOD)).fetchone()[0]
    if full is None:
        return []
    return [dict(r) for r in con.execute(
        "SELECT DISTINCT Media.VolumeName AS volume, Media.Slot AS slot, Storage.Name AS library, "
        "MIN(Job.JobId) AS job_id FROM JobMedia JOIN Media USING (MediaId) JOIN Job USING (JobId) "
        "JOIN Client USING (ClientId) LEFT JOIN Storage ON Storage.StorageId = Media.StorageId "
        f"WHERE Client.Name = ? AND {good} AND Job.JobId >= ? GROUP BY Media.VolumeName ORDER BY Media.VolumeName",
        (client, *GOOD, full)).fetchall()]


def library_volumes(lab, library: str) -> dict[str, int]:
    """volume -> slot, as the library's autochanger reports them now (bconsole `status slots`: the storage
    daemon asks the changer for its barcodes), not as the catalogue remembers."""
    out = lab.bconsole(f"status slots storage={library} drive=0")
    return {m.group(2): int(m.group(1)) for m in _SLOT.finditer(out) if m.group(2)}


def absent_volumes(lab, client: str) -> list[str]:
    """Why the restore cannot read what it needs: each cartridge the catalogue names that its library does not
    hold; [] when every one is there."""
    with lab.catalogue() as con:
        needed = volumes_needed(con, client)
    seen: dict[str, dict[str, int]] = {}
    out = []
    for v in needed:
        lib = v["library"] or "?"
        if lib not in seen:
            seen[lib] = library_volumes(lab, lib)
        if v["volume"] not in seen[lib]:
            where = f"slot {v['slot']}" + (f", magazine {magazine_of(lab.tape, v['slot'])}" if v["slot"] else "")
            out.append(f"volume {v['volume']} (JobId {v['job_id']}, {where} in the catalogue) is not in "
                       f"the library {lib}: its autochanger does not report it")
    return out


def restore_verified(lab, client: str, staging: Path) -> RestoreResult:
    """Restore the client's current data into `staging` and verify it; a cartridge the restore needs that is
    not in its library fails here, before any restore job runs and before `staging` is made."""
    absent = absent_volumes(lab, client)
    if absent:
        return RestoreResult(False, None, staging, 0.0, errors=absent)
    staging.mkdir(parents=True, exist_ok=True)
    t = time.monotonic()
    out = lab.bconsole(f"restore client={client} where={staging} select current all done yes\nwait\nmessages")
    seconds = time.monotonic() - t
    with lab.catalogue() as con:
        job = con.execute("SELECT JobId, JobStatus, JobBytes FROM Job WHERE Type = 'R' ORDER BY JobId DESC LIMIT 1").fetchone()
        want = expected_files(con, client)
    res = RestoreResult(False, job["JobId"] if job else None, staging, seconds)
    if job is None or job["JobStatus"] not in GOOD:
        res.errors = [m.group(1).strip() for m in _ERR.finditer(out)] or ["the director reports no good restore job"]
        return res
    res.expected, res.bytes = want, int(job["JobBytes"] or 0)
    verify(res, want)
    if not want:
        res.errors = [f"the catalogue holds no file of {client}: nothing to verify against"]
    return res


def verify(res: RestoreResult, want: dict[str, str]) -> RestoreResult:
    """Check every file of `want` (path -> catalogue digest) under the staging folder."""
    res.missing, res.mismatched = [], []
    for path, digest in sorted(want.items()):
        got = res.staging / path.lstrip("/")
        if not got.is_file():
            res.missing.append(path)
        elif catalogue_digest(got.read_bytes()) != digest:
            res.mismatched.append(path)
    res.files_checked = len(want)
    res.ok = bool(want) and not res.missing and not res.mismatched and not res.errors
    return res
