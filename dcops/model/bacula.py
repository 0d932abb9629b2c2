"""The Bacula director's resources the inventory implies, as data: one `Fragment` per resource (a client,
file set and job per VM on a tape policy; pools, a schedule and job defaults per policy; the tape library's
storage and, for policies that replicate, the DR library's storage, pools and copy jobs).

Pure functions of the inventory: `dcops.backup.config` renders them into the lab's and production's
bacula-dir.conf, and the Pulumi program (`dcops.cloud.backup`) declares each as a resource whose provider
writes it into the director's conf.d. One generator, two consumers that never import each other."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

DR_COPY_AT = "05:05"  # after the night's backups (23:05), before office hours
DR_SCHEDULE = "dr-copy"
SCRATCH = "Scratch"
RESTORE_JOB = "restore"
#: the director's resource kinds the provider writes (bconsole `show` names them in lower case)
KINDS = ("Storage", "Pool", "Schedule", "JobDefs", "Client", "FileSet", "Job")
#: directives whose value Bacula wants quoted (paths, passwords, free text)
QUOTED = {"Password", "File", "Write Bootstrap", "Where", "Description", "TLS CA Certificate File",
          "TLS Certificate", "TLS Key"}
#: the names Bacula accepts (src/lib/parse_conf.c: letters, digits and `:.-_ ` — no spaces here)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,126}$")


class PolicyNotExpressible(ValueError):
    """A backup policy Bacula's scheduler cannot run as declared."""


@dataclass(frozen=True)
class Run:
    """One `Run =` line of a schedule, as data: the text Bacula reads and the days it matches.

    Days as Bacula's scheduler sees them (src/dird/scheduler.c find_runs: wom = (mday - 1) / 7, woy =
    tm_woy), in the director's local time: `weekdays` 0 = Monday … 6 = Sunday; `weeks_of_month` 1 = "1st"
    (day 1–7 of the month) … 5 = "5th" (29–31); `weeks_of_year` Bacula's w00–w53 (`bacula_week`). The
    running director agrees (tests/backup/test_pulumi_provider.py, its `status dir`)."""
    level: str
    weekdays: frozenset[int]
    at: str
    weeks_of_month: frozenset[int] | None = None
    weeks_of_year: frozenset[int] | None = None

    @property
    def text(self) -> str:
        if self.level == "Full" and self.weekdays == EVERY_DAY and not self.weeks_of_month and not self.weeks_of_year:
            return f"Level={self.level} daily at {self.at}"
        parts = []
        if self.weeks_of_year is not None:
            parts.append(",".join(f"w{n:02d}" for n in sorted(self.weeks_of_year)))
        if self.weeks_of_month is not None:
            lo, hi = min(self.weeks_of_month), max(self.weeks_of_month)
            parts.append(_ORD[lo] if lo == hi else f"{_ORD[lo]}-{_ORD[hi]}")
        if self.weekdays == frozenset({6}):
            parts.append("sun")
        elif self.weekdays == frozenset(range(6)):
            parts.append("mon-sat")
        else:
            raise AssertionError(f"no Bacula words for weekdays {sorted(self.weekdays)}")
        return f"Level={self.level} {' '.join(parts)} at {self.at}"

    def matches(self, day: dt.date) -> bool:
        return (day.weekday() in self.weekdays
                and (self.weeks_of_month is None or (day.day - 1) // 7 + 1 in self.weeks_of_month)
                and (self.weeks_of_year is None or bacula_week(day) in self.weeks_of_year))


EVERY_DAY = frozenset(range(7))
_ORD = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th"}
_EVEN, _ODD = frozenset(range(0, 54, 2)), frozenset(range(1, 54, 2))


def bacula_week(day: dt.date) -> int:
    """Bacula's week of the year (src/lib/btime.c tm_woy): week 1 holds the year's first Thursday, days before
    it are week 0 and the year's last days stay in week 52/53 (never week 1 of the next year, unlike ISO)."""
    jan4 = dt.date(day.year, 1, 4)
    first_monday = jan4 - dt.timedelta(days=jan4.weekday())
    woy = (day - first_monday).days
    return 0 if woy < 0 else 1 + woy // 7


def schedule(full_every_days: int, incremental_daily: bool, at: str = "23:05") -> list[Run]:
    """The runs of a full every N days (+ daily incrementals).

    Bacula schedules by calendar, not by interval: 1 day = daily, 7 = weekly, 14 = the even weeks of the year
    (Bacula 9.6 has no "every other week": w00,w02,…,w52, so the year turn gives one 7-day cycle),
    28–31 = monthly (the 1st Sunday). Any other interval would silently drift, so it is refused."""
    sun, week = frozenset({6}), frozenset(range(6))
    if full_every_days == 1:
        return [Run("Full", EVERY_DAY, at)]
    if full_every_days == 7:
        runs = [Run("Full", sun, at)]
        inc = [Run("Incremental", week, at)]
    elif full_every_days == 14:
        runs = [Run("Full", sun, at, weeks_of_year=_EVEN)]
        inc = [Run("Incremental", sun, at, weeks_of_year=_ODD), Run("Incremental", week, at)]
    elif 28 <= full_every_days <= 31:
        runs = [Run("Full", sun, at, weeks_of_month=frozenset({1}))]
        inc = [Run("Incremental", sun, at, weeks_of_month=frozenset({2, 3, 4, 5})), Run("Incremental", week, at)]
    else:
        raise PolicyNotExpressible(f"a full every {full_every_days} days has no Bacula schedule "
                                   "(use 1, 7, 14 or a month: 28–31)")
    return runs + (inc if incremental_daily else [])


def schedule_runs(full_every_days: int, incremental_daily: bool, at: str = "23:05") -> list[str]:
    """Bacula `Run =` lines for a full every N days (+ daily incrementals): `schedule`'s text."""
    return [r.text for r in schedule(full_every_days, incremental_daily, at)]


def longest_full_gap_days(full_every_days: int) -> int:
    """The longest gap between two fulls the calendar gives: a fortnight never more than 14 days (the year turn
    makes one 7-day cycle: the new year's first Sunday is w00 or follows a w52), a month 35 (one 1st Sunday to
    the next). tests/backup walks 11 years of days through `Run.matches` to hold this."""
    schedule(full_every_days, False)  # refuses what has no schedule
    return {1: 1, 7: 7, 14: 14}.get(full_every_days, 35)


def policy_problems(p) -> list[tuple[str, str]]:
    """(field, message) for every reason Bacula cannot run a tape policy as declared; [] when it can (and for a
    policy that does not go to tape). `dcops validate` reports each at its line; the generator refuses the
    first."""
    if p.target != "tape":
        return []
    try:
        gap = longest_full_gap_days(p.full_every_days)
    except PolicyNotExpressible as e:
        return [("full_every_days", f"backup policy {p.name}: {e}")]
    if p.retention_days < gap:
        return [("retention_days", f"backup policy {p.name}: retention {p.retention_days} days is shorter than "
                                   f"the {gap} days its schedule can leave between two fulls (full every "
                                   f"{p.full_every_days} days): Bacula would recycle the last full before the "
                                   "next one is written")]
    return []


def last_due(runs: list[Run], before: dt.datetime) -> dt.datetime | None:
    """The newest time at or before `before` (aware, the director's local time) when one of `runs` starts a
    job; None when none did in the last 60 days."""
    day = before.date()
    for _ in range(61):
        for r in runs:
            h, m = (int(x) for x in r.at.split(":"))
            t = dt.datetime.combine(day, dt.time(h, m), tzinfo=before.tzinfo)
            if t <= before and r.matches(day):
                return t
        day -= dt.timedelta(days=1)
    return None


def levels(p) -> list[str]:
    """The policy's pools by level, each `<policy>-<level>`: full; incremental when the schedule runs them
    daily; differential always (the schedule runs none, but `dcops backup run --level differential` may, and
    its job must not land among the fulls)."""
    return ["full", *(["inc"] if p.incremental_daily else []), "diff"]


def copy_jobs(policies) -> list[str]:
    """Names of the DR copy jobs for these policies (one per source pool of a replicated tape policy)."""
    return [f"{p.name}-{lv}-copy-dr" for p in policies if p.target == "tape" and p.replicate_to_dr for lv in levels(p)]


def magazine_of(tape, slot: int) -> int:
    """The magazine a slot is in (1-based; the magazines split the slots in order, equally: `dcops validate`
    refuses slots that do not split)."""
    return (slot - 1) // (tape.slots // tape.magazines) + 1


def dr_storage(tape) -> tuple[str, str]:
    """(name, media type) of the DR site's library: its own media type, so the director never mounts a DR
    cartridge in the main library."""
    return f"{tape.name}-dr", f"{tape.media_type}-DR"


@dataclass
class Client:
    name: str
    address: str
    port: int
    policy: object  # the inventory's BackupPolicy
    paths: list[str]


def clients_of(inv, *, lab_paths: dict[str, list[str]] | None = None, fd_port: int = 9102) -> list[Client]:
    """A client per VM whose policy goes to tape; in the lab (lab_paths: VM -> folders) only those VMs, all
    served by the one local file daemon."""
    out = []
    for vm in inv.vms:
        if not vm.backup_policy:
            continue
        policy = inv.backup_policy(vm.backup_policy)
        if policy.target != "tape":
            continue
        if lab_paths is not None:
            if vm.name not in lab_paths:
                continue
            out.append(Client(vm.name, "127.0.0.1", fd_port, policy, lab_paths[vm.name]))
        else:
            out.append(Client(vm.name, str(vm.ip), fd_port, policy, [f"/srv/{v.name}" for v in vm.volumes] or ["/srv"]))
    return out


@dataclass(frozen=True)
class Fragment:
    """One director resource: `kind { Name = name; directives… }`. Values are str/int (one line), a list
    (the directive repeated, e.g. `Run`, `File`) or a dict (a nested block, e.g. a file set's Include).
    `refs` are the (kind, name) of the resources it names, which must exist before it."""
    kind: str
    name: str
    directives: dict[str, Any]
    refs: tuple[tuple[str, str], ...] = ()
    comment: str = ""

    @property
    def file(self) -> str:
        """Its file in the director's conf.d."""
        return f"{self.kind.lower()}-{self.name}.conf"


def _value(key: str, v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    s = str(v)
    if key in QUOTED:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def _block(directives: dict[str, Any], indent: str) -> list[str]:
    lines = []
    for key, v in directives.items():
        if isinstance(v, dict):
            lines += [f"{indent}{key} {{", *_block(v, indent + "  "), f"{indent}}}"]
        elif isinstance(v, (list, tuple)):
            lines += [f"{indent}{key} = {_value(key, x)}" for x in v]
        elif v is not None:
            lines.append(f"{indent}{key} = {_value(key, v)}")
    return lines


def render_fragment(kind: str, name: str, directives: dict[str, Any], comment: str = "") -> str:
    head = [f"# {line}" for line in comment.splitlines()]
    return "\n".join([*head, f"{kind} {{", f"  Name = {name}", *_block(directives, "  "), "}"]) + "\n"


def canonical(text_: str) -> tuple:
    """A fragment's content regardless of directive order, which Bacula ignores within a resource and which the
    Pulumi engine does not keep (a directive map crosses gRPC as a protobuf Struct): each block's lines and
    sub-blocks as a sorted tuple; comments and blank lines dropped. Two renderings of the same resource in any
    order are equal; any changed, added or removed directive is not."""
    stack: list[list] = [[]]
    for raw in text_.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("{"):
            stack.append([line])
        elif line == "}" and len(stack) > 1:
            head, *body = stack.pop()
            stack[-1].append((head, tuple(sorted(body, key=repr))))
        else:
            stack[-1].append(line)
    return tuple(sorted((x if isinstance(x, tuple) else (x,) for block in stack for x in block), key=repr))


def text(f: Fragment) -> str:
    return render_fragment(f.kind, f.name, f.directives, f.comment)


@dataclass(frozen=True)
class Site:
    """What the director's resources say about where things run (not the daemons' own configuration)."""
    workdir: str  # the director's working folder (bootstraps, restores)
    sd_address: str
    sd_port: int
    #: passwords as the caller holds them: plain strings for a rendered file, secret Outputs in Pulumi
    fd_password: Any
    sd_password: Any
    #: bytes a volume holds (cartridge size x the lab's scale)
    volume_bytes: int
    #: the director's name: its core configuration (not these fragments) declares its own client
    #: `<director>-fd` and file set `<director>-catalog`, which copy and restore jobs name where Bacula wants
    #: a client and file set it does not use (so adding a VM never changes them)
    director: str = "kg-bak-dir"
    #: the catalogue's name (the core configuration declares it)
    catalog: str = "MyCatalog"
    #: TLS directives the director uses toward storage and file daemons (`tls_directives`), or None: plain
    tls: dict[str, str] | None = None


def tls_directives(ca, cert, key) -> dict[str, str]:
    """TLS Enable/Require with the site CA and this daemon's pair: every daemon connection verified."""
    return {"TLS Enable": "yes", "TLS Require": "yes", "TLS CA Certificate File": str(ca),
            "TLS Certificate": str(cert), "TLS Key": str(key)}


def fragments(inv, clients: list[Client], site: Site) -> list[Fragment]:
    """Every director resource for these clients, dependencies first; PolicyNotExpressible names the policy."""
    if not clients:
        raise ValueError("no VM uses a tape backup policy: nothing for Bacula to back up")
    tape = inv.storage.tape
    used = {c.policy.name for c in clients}
    policies = [p for p in inv.storage.backup_policies if p.target == "tape" and p.name in used]
    schedules = {}
    for p in policies:
        for _, problem in policy_problems(p)[:1]:
            raise PolicyNotExpressible(problem)
        schedules[p.name] = schedule_runs(p.full_every_days, p.incremental_daily)
    dr = any(p.replicate_to_dr for p in policies)
    dr_name, dr_media = dr_storage(tape)
    out: list[Fragment] = []

    def storage(name, media, drives, comment):
        out.append(Fragment("Storage", name, {
            "Address": site.sd_address, "SDPort": site.sd_port, "Password": site.sd_password,
            "Device": f"{name}-changer", "Media Type": media, "Autochanger": "yes",
            "Maximum Concurrent Jobs": drives, **(site.tls or {})}, comment=comment))

    storage(tape.name, tape.media_type, tape.drives,
            f"The tape library ({tape.model}): one autochanger, {tape.drives} drive(s), {tape.slots} slot(s) in "
            f"{tape.magazines} magazine(s).")
    if dr:
        storage(dr_name, dr_media, 1, f"The DR site's library ({tape.slots} slots): copies of the policies that "
                                      "replicate to DR.")
        out.append(Fragment("Schedule", DR_SCHEDULE, {"Run": [f"Level=Full daily at {DR_COPY_AT}"]}))
    out.append(Fragment("Pool", SCRATCH, {"Pool Type": "Scratch", "Recycle Pool": SCRATCH}))

    def pool(name, store, p, next_pool=None, comment=""):
        out.append(Fragment("Pool", name, {
            "Pool Type": "Backup", "Storage": store, "Next Pool": next_pool, "Recycle": "yes", "AutoPrune": "yes",
            "Volume Retention": f"{p.retention_days} days", "Maximum Volume Bytes": site.volume_bytes,
            "Scratch Pool": SCRATCH, "Recycle Pool": SCRATCH},
            refs=(("Storage", store), ("Pool", SCRATCH), *((("Pool", next_pool),) if next_pool else ())),
            comment=comment))

    for p in policies:
        replicated = dr and p.replicate_to_dr
        nxt = f"{p.name}-dr" if replicated else None
        if replicated:
            pool(nxt, dr_name, p, comment="Copies at the DR site, kept as long as the originals.")
        pool(f"{p.name}-full", tape.name, p, nxt,
             comment=f"Policy {p.name}: full every {p.full_every_days} day(s)"
                     f"{', incremental daily' if p.incremental_daily else ''}, kept {p.retention_days} days, "
                     f"RPO {p.rpo_hours:g} h.")
        if p.incremental_daily:
            pool(f"{p.name}-inc", tape.name, p, nxt)
        pool(f"{p.name}-diff", tape.name, p, nxt, comment="Differentials (run by hand: the schedule has none).")
        out.append(Fragment("Schedule", p.name, {"Run": schedules[p.name]}))
        pools = [f"{p.name}-{lv}" for lv in levels(p)]
        out.append(Fragment("JobDefs", p.name, {
            "Type": "Backup", "Level": "Incremental", "Schedule": p.name, "Storage": tape.name,
            "Messages": "Standard", "Pool": f"{p.name}-full", "Full Backup Pool": f"{p.name}-full",
            "Incremental Backup Pool": f"{p.name}-inc" if p.incremental_daily else None,
            "Differential Backup Pool": f"{p.name}-diff", "Priority": 10,
            "Write Bootstrap": f"{site.workdir}/dir/%c.bsr"},
            refs=(("Schedule", p.name), ("Storage", tape.name), *(("Pool", x) for x in pools))))
    for c in clients:
        out.append(Fragment("Client", f"{c.name}-fd", {
            "Address": c.address, "FDPort": c.port, "Catalog": site.catalog, "Password": site.fd_password,
            "File Retention": f"{c.policy.retention_days} days", "Job Retention": f"{c.policy.retention_days} days",
            "AutoPrune": "yes", **(site.tls or {})}))
        out.append(Fragment("FileSet", f"{c.name}-data", {
            "Include": {"Options": {"signature": "SHA1"}, "File": list(c.paths)}}))
        out.append(Fragment("Job", c.name, {
            "JobDefs": c.policy.name, "Client": f"{c.name}-fd", "FileSet": f"{c.name}-data"},
            refs=(("JobDefs", c.policy.name), ("Client", f"{c.name}-fd"), ("FileSet", f"{c.name}-data"))))
    own_fd, own_set = f"{site.director}-fd", f"{site.director}-catalog"
    for p in policies:
        if not (dr and p.replicate_to_dr):
            continue
        # a copy job per source pool copies every job not yet copied (PoolUncopiedJobs): a night that fails
        # is caught up the next
        for src in levels(p):
            out.append(Fragment("Job", f"{p.name}-{src}-copy-dr", {
                "Type": "Copy", "Level": "Full", "Selection Type": "PoolUncopiedJobs", "Pool": f"{p.name}-{src}",
                "Next Pool": f"{p.name}-dr", "Schedule": DR_SCHEDULE, "Client": own_fd, "FileSet": own_set,
                "Messages": "Standard", "Priority": 20},
                refs=(("Pool", f"{p.name}-{src}"), ("Pool", f"{p.name}-dr"), ("Schedule", DR_SCHEDULE))))
    # restores go through one job; bconsole's `restore` names the client and the target folder
    out.append(Fragment("Job", RESTORE_JOB, {
        "Type": "Restore", "Client": own_fd, "Storage": tape.name, "FileSet": own_set,
        "Pool": SCRATCH, "Messages": "Standard", "Where": f"{site.workdir}/restore"},
        refs=(("Storage", tape.name), ("Pool", SCRATCH))))
    return out
