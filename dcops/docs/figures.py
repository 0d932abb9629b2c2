"""Every figure the README and docs quote about the inventory, the plans and the benchmarks.

A figure sits in Markdown between invisible markers, `<!--fig:NAME-->1,053<!--/fig-->`. `refresh` rewrites
each value from its source; `check` lists the ones that drifted. Sources are the CLI's own JSON contracts
(`dcops validate --json`, `dcops plan --json -`) and the result files the bench scripts write
(`bench/results/*.json`), so this module knows no consumer's internals.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

from .. import PROJECT_ROOT

MARKER = re.compile(r"<!--fig:(?P<name>[a-z0-9_.-]+)-->(?P<value>.*?)<!--/fig-->")
#: A whole Markdown table (or paragraph) generated from a bench's results, between two marker lines.
BLOCK = re.compile(r"(?P<open><!--figblock:(?P<name>[a-z0-9_.-]+)-->\n)(?P<body>.*?)(?P<close><!--/figblock-->)", re.S)
#: A count of these things typed in prose without a marker is how figures drifted before.
COUNTED = re.compile(r"\b\d[\d,.]*\s+(?:resources|VMs|hosts|tenants|systems|DR systems|tests)\b")
NOFIG = "<!--nofig-->"  # on a line: its counts are examples or hypotheticals, not claims about the site


def doc_files(root: Path = PROJECT_ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def num(n: float, digits: int = 0) -> str:
    """English-style figure, as the docs are written: 1,053 / 2.6."""
    return f"{n:,.{digits}f}"


@dataclass
class Sources:
    root: Path = PROJECT_ROOT

    def _cli_json(self, *args: str) -> dict:
        proc = subprocess.run([sys.executable, "-m", "dcops.cli", *args], capture_output=True, text=True,
                              cwd=self.root, timeout=300)
        if proc.returncode not in (0, 1) or not proc.stdout.strip():
            raise RuntimeError(f"dcops {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
        return json.loads(proc.stdout)

    @cached_property
    def inventory(self) -> dict:
        return self._cli_json("validate", "--json")["summary"]

    @cached_property
    def prod(self) -> dict:
        return self._cli_json("plan", "--stack", "prod", "--json", "-")

    @cached_property
    def dr(self) -> dict:
        return self._cli_json("plan", "--stack", "dr", "--json", "-")

    def bench(self, name: str) -> dict:
        return self.bench_run(name)["figures"]

    def bench_run(self, name: str) -> dict:
        """The whole results file of one bench run: figures, machine, load, date, notes."""
        path = self.root / "bench" / "results" / f"{name}.json"
        if not path.exists():
            raise RuntimeError(f"no {path.relative_to(self.root)}: run bench/{name}.py first")
        return json.loads(path.read_text(encoding="utf-8"))


def _keyword_rows(verdict: str) -> Callable[[Sources], str]:
    """docs/network.md's reviewed keyword tables, counted by the same parser the keyword test uses."""
    def count(s: Sources) -> str:
        from ..net.keywords import DOC, counts, parse_tables  # a pure function of the Markdown
        return num(counts(parse_tables((s.root / "docs" / DOC).read_text(encoding="utf-8")))[verdict])
    return count


def _inv(key: str) -> Callable[[Sources], str]:
    return lambda s: num(s.inventory[key])


def _bench(name: str, key: str, digits: int = 0) -> Callable[[Sources], str]:
    return lambda s: num(s.bench(name)[key], digits)


FIGURES: dict[str, Callable[[Sources], str]] = {
    "hosts": _inv("hosts"),
    "vms": _inv("vms"),
    "vcpus": _inv("vcpus"),
    "tenants": _inv("tenants"),
    "systems": _inv("systems"),
    "zones": _inv("zones"),
    "plan.prod.resources": lambda s: num(s.prod["summary"]["resources"]),
    "plan.prod.components": lambda s: num(s.prod["summary"]["components"]),
    "plan.prod.bacula": lambda s: num(sum(n for k, n in s.prod["summary"]["by_type"].items()
                                          if k.startswith("bacula."))),
    "plan.dr.resources": lambda s: num(s.dr["summary"]["resources"]),
    "plan.dr.systems": lambda s: num(len(s.dr["systems"])),
    "plan.dr.vms": lambda s: num(s.dr["summary"]["by_type"].get("compute.Instance", 0)),
    "plan.dr.system_names": lambda s: ", ".join(sorted(x["name"] if isinstance(x, dict) else x
                                                       for x in s.dr["systems"])),
    "bench.plan.site_resources": _bench("bench_plan", "site_resources"),
    "bench.plan.site_s": _bench("bench_plan", "site_s", 2),
    "bench.plan.x10_resources": _bench("bench_plan", "x10_resources"),
    "bench.plan.x10_s": _bench("bench_plan", "x10_s", 1),
    "bench.net.render_min_s": _bench("bench_net", "render_min_s", 2),
    "bench.net.render_max_s": _bench("bench_net", "render_max_s", 2),
    "bench.net.lint_s": _bench("bench_net", "lint_s", 2),
    "bench.net.push_ratio": _bench("bench_net", "push_ratio", 2),
    "bench.net.push_one_s": _bench("bench_net", "push_one_s", 2),
    "bench.net.failover_detection_s": _bench("bench_net", "failover_detection_s", 2),
    "bench.net.failover_outage_s": _bench("bench_net", "failover_outage_s", 2),
    "bench.scaleout.embedded_mb_per_1k": _bench("bench_scaleout", "embedded_mb_per_1000_devices", 1),
    "bench.scaleout.prometheus_mb_per_1k": _bench("bench_scaleout", "prometheus_mb_per_1000_devices", 1),
    "bench.scaleout.embedded_dps_5k": lambda s: num(s.bench("bench_scaleout")["n5000"]["embedded_devices_per_s"]),
    "bench.central.mb_per_1k": _bench("bench_central", "central_mb_per_1000_devices", 1),
    "bench.central.devices_max": lambda s: num(max(v["devices"] for k, v in s.bench("bench_central").items()
                                                   if k.startswith("d"))),
    "bench.scaleout.prometheus_dps_5k": lambda s: num(s.bench("bench_scaleout")["n5000"]["prometheus_devices_per_s"]),
    "bench.snmp.get_v2c_ratio": _bench("bench_snmp", "get_v2c_ratio", 2),
    "bench.snmp.get_v3_ratio": _bench("bench_snmp", "get_v3_ratio", 2),
    "bench.snmp.walk_v2c_ratio": _bench("bench_snmp", "walk_v2c_ratio", 2),
    "bench.snmp.walk_v3_ratio": _bench("bench_snmp", "walk_v3_ratio", 2),
    "bench.snmp.many_devices": _bench("bench_snmp", "many_v3_devices"),
    "bench.snmp.many_v2c_steady_s": _bench("bench_snmp", "many_v2c_steady_s", 1),
    "bench.snmp.many_v3_steady_s": _bench("bench_snmp", "many_v3_steady_s", 1),
    "bench.snmp.many_v3_first_s": _bench("bench_snmp", "many_v3_first_s", 1),
    "bench.snmp.many_v2c_cpu_s": _bench("bench_snmp", "many_v2c_steady_cpu_s", 1),
    "bench.snmp.many_v3_cpu_s": _bench("bench_snmp", "many_v3_steady_cpu_s", 1),
    "bench.snmp.many_v2c_agent_cpu_s": _bench("bench_snmp", "many_v2c_steady_agent_cpu_s", 1),
    "bench.snmp.many_v3_agent_cpu_s": _bench("bench_snmp", "many_v3_steady_agent_cpu_s", 1),
    "bench.snmp.many_load": _bench("bench_snmp", "many_v2c_load_before", 1),
    "bench.snmp.load_before": _bench("bench_snmp", "load_average_before", 1),
    "bench.codec.v2c_us_per_vb": _bench("bench_codec", "v2c_us_per_varbind", 2),
    "bench.codec.v3_us_per_vb": _bench("bench_codec", "v3_us_per_varbind", 2),
    "net.keywords.rows": _keyword_rows("rows"),
    "net.keywords.verified": _keyword_rows("verified"),
    "net.keywords.open": _keyword_rows("open"),
    "net.keywords.unchecked": _keyword_rows("unchecked"),
}


def _noc_table(s: Sources) -> str:
    """bench_noc.py's results (bench/results/noc.json) as the README's table: p95 per page and client count."""
    path = s.root / "bench" / "results" / "noc.json"
    if not path.exists():
        raise RuntimeError("no bench/results/noc.json: run bench/bench_noc.py first")
    r = json.loads(path.read_text(encoding="utf-8"))
    pages = [("overview", "overview"), ("ups_1h", "UPS page, 1 h"), ("ups_1d", "UPS page, 24 h"),
             ("ups_30d", "UPS page, 30 days"), ("lines", "lines"), ("api_status", "`/api/status`")]
    levels = r["levels"]
    lv = " / ".join(map(str, levels))
    rows = [f"| page | p95 ms new ({lv} clients) | p95 ms old ({lv}) | errors new / old | "
            "server CPU ms per request new / old | size new / old |", "|---|---|---|---|---|---|"]
    for key, label in pages:
        new = [r["new"][f"{key}@{n}"] for n in levels]
        old = [r["old"][f"{key}@{n}"] for n in levels]
        rows.append(f"| {label} | {' / '.join(num(c['p95']) for c in new)} | {' / '.join(num(c['p95']) for c in old)} | "
                    f"{sum(c['errors'] for c in new)} / {sum(c['errors'] for c in old)} | "
                    f"{num(new[-1]['server_cpu_ms'], 1)} / {num(old[-1]['server_cpu_ms'], 1)} | "
                    f"{num(new[-1]['kb'])} KB / {num(old[-1]['kb'])} KB |")
    load = r.get("load_before") or [0]
    rows.append("")
    rows.append(f"Run on {r.get('cpus', '?')} CPUs, load average {load[0]:.1f} before the run, {r['seconds']} s per cell "
                "(`bench/results/noc.json`).")
    return "\n".join(rows) + "\n"


def _cloud_table(s: Sources) -> str:
    from ..cloud.figures import table  # a pure function of the plan JSON: no Pulumi, no cloud internals
    return table(s.prod, s.dr)


def _scaleout_table(s: Sources) -> str:
    """bench_scaleout.py's results: the embedded path and the Prometheus path side by side, per device count."""
    r = s.bench_run("bench_scaleout")
    f = r["figures"]
    sizes = sorted(int(k[1:]) for k in f if k.startswith("n") and k[1:].isdigit())
    rows = ["| devices (series) | embedded: SQLite write + alert engine per cycle | embedded devices/s | embedded RSS | "
            "Prometheus: scrape + rule evaluation | Prometheus devices/s | Prometheus RSS |",
            "|---|---|---|---|---|---|---|"]
    for n in sizes:
        x = f[f"n{n}"]
        rows.append(f"| {num(n)} ({num(x['series'])}) | {num(x['embedded_cycle_s'], 2)} s | "
                    f"{num(x['embedded_devices_per_s'])} | {num(x['embedded_rss_mb'])} MB | "
                    f"{num(x['prometheus_scrape_s'], 2)} + {num(x['prometheus_rules_s'], 2)} s | "
                    f"{num(x['prometheus_devices_per_s'])} | {num(x['prometheus_rss_mb'])} MB |")
    rows.append("")
    if "embedded_mb_per_1000_devices" in f:
        rows.append(f"Memory per 1,000 more devices: embedded {num(f['embedded_mb_per_1000_devices'], 1)} MB, "
                    f"Prometheus {num(f['prometheus_mb_per_1000_devices'], 1)} MB. ")
    m = r["machine"]
    rows[-1] += (f"One run on {m['cpus']} CPUs shared with other jobs (load average {m['load_average'][0]:.1f} at the "
                 f"end), {r['measured_at'][:10]} (`bench/results/bench_scaleout.json`).")
    return "\n".join(rows) + "\n"


def _snmp_table(s: Sources) -> str:
    """bench_snmp.py's results as docs/monitoring.md's tables: varbinds per CPU-second, dcops vs the exporter."""
    f = s.bench("bench_snmp")
    rows = []
    for title, pre in (("GET workload (batched GETs of explicit instances)", "get"),
                       ("Walk workload (the `if-mib` profile: 3 GETs + 11 columns by GETBULK)", "walk")):
        rows += [f"{title}:", "", "| poller | varbinds / CPU-s | vs exporter |", "|---|---|---|"]
        for ver, label in (("v2c", "v2c"), ("v3", "v3 authPriv SHA-256/AES")):
            k = f"{pre}_{ver}"
            if f"{k}_ratio" not in f:
                continue
            rows.append(f"| prometheus-snmp-exporter, {label} | {num(f[k + '_exporter_vb_per_cpu_s'])} | 1.00× |")
            rows.append(f"| **dcops, {label}** | {num(f[k + '_vb_per_cpu_s'])} | **{num(f[k + '_ratio'], 2)}×** |")
        rows.append("")
    extra = [("v2c_store_vb_per_cpu_s", "dcops v2c, plus writing every cycle to the SQLite history"),
             ("v2c_pysnmp_vb_per_cpu_s", "dcops v2c on pysnmp's engine"), ("naive_pysnmp_v2c_vb_per_cpu_s",
                                                                          "naive pysnmp hlapi v2c"),
             ("v3_pysnmp_vb_per_cpu_s", "dcops v3 authPriv on pysnmp")]
    have = [(k, t) for k, t in extra if k in f]
    if have:
        rows += ["| for reference (walk workload) | varbinds / CPU-s |", "|---|---|"]
        rows += [f"| {t} | {num(f[k])} |" for k, t in have]
        rows.append("")
    if "many_v3_steady_s" in f:
        served = f.get("many_v3_agents", f"{f['agents']} snmpd")
        agent_cpu = (f"; CPU of the agents ({served.split(' ', 1)[1]}) in the same cycle "
                     f"{num(f['many_v2c_steady_agent_cpu_s'], 1)} s and {num(f['many_v3_steady_agent_cpu_s'], 1)} s"
                     if "many_v3_steady_agent_cpu_s" in f else "")
        load = (f"; load average {num(f['many_v2c_load_before'], 1)} when the cycles began"
                if "many_v2c_load_before" in f else "")
        rows.append(f"{num(f['many_v3_devices'])} simulated devices served by {served} agents, "
                    f"{f['many_v3_workers']} poller processes: steady cycle {num(f['many_v2c_steady_s'], 1)} s (v2c), "
                    f"{num(f['many_v3_steady_s'], 1)} s (v3 authPriv; first cycle with engine discovery "
                    f"{num(f['many_v3_first_s'], 1)} s) wall; CPU of the poller processes per steady cycle "
                    f"{num(f['many_v2c_steady_cpu_s'], 1)} s (v2c) and {num(f['many_v3_steady_cpu_s'], 1)} s (v3)"
                    f"{agent_cpu}{load}.")
    rows.append(f"{f['agents']} snmpd agents, {f['concurrency']} devices in flight, {num(f['phase_s'])} s per phase; "
                f"load average {num(f['load_average_before'], 1)} before the run, {num(f['load_average_after'], 1)} "
                "after (`bench/results/bench_snmp.json`).")
    return "\n".join(rows) + "\n"


def _mutation_table(s: Sources) -> str:
    """bench/mutation.py's results: the mutation score per safety-deciding module (issue 20)."""
    figs = s.bench("mutation")
    rows = ["| module | files | mutants run / generated | killed | reviewed equivalent | survived | score |",
            "|---|---|---|---|---|---|---|"]
    for name, r in figs.items():
        run, generated = r.get("checked", r["mutants"]), r.get("generated", r["mutants"])
        files = ", ".join(f"`{p}`" for p in r["paths"])
        if r.get("functions"):
            files += f" ({len(r['functions'])} functions named in `bench/mutation.py`)"
        killed = r.get("killed")
        score = f"{num(r['score'], 1)} %"
        if run < generated and r.get("sampling") != "random":   # recorded before samples were random
            score += " (every-k-th sample, no valid interval: a stride can miss whole kinds of mutant)"
        elif run < generated:
            lo, hi = r.get("ci95") or (None, None)
            score += (f" (random sample; 95 % interval {num(lo, 1)}–{num(hi, 1)} %)" if lo is not None
                      else " (random sample; no interval recorded)")
        rows.append(f"| {name} | {files} | {num(run)} / {num(generated)} | {'–' if killed is None else num(killed)} | "
                    f"{num(r['equivalent'])} | {num(r['survived'])} | {score} |")
    rows += ["", "A module with fewer mutants run than generated was sampled (`bench/mutation.py --sample N`, a "
                 "seeded random sample; older runs took every k-th mutant): its score is an estimate of the whole module's, with the 95 % "
                 "interval of that estimate (Wilson, finite-population corrected)."]
    return "\n".join(rows) + "\n"


def _central_table(s: Sources) -> str:
    """bench_central.py's results: the national view's central VictoriaMetrics, at the real number of provinces."""
    r = s.bench_run("bench_central")
    f = r["figures"]
    rows = ["| provinces × devices (series) | samples/s ingested | VictoriaMetrics CPU per million samples | "
            "RSS | disk per sample | index per series | national query (median of 5) |",
            "|---|---|---|---|---|---|---|"]
    for key in sorted((k for k in f if k.startswith("d") and k[1:].isdigit()), key=lambda k: int(k[1:])):
        x = f[key]
        rows.append(f"| {x['provinces']} × {num(x['devices_per_province'])} = {num(x['devices'])} "
                    f"({num(x['series'])}) | {num(x['samples_per_s'])} | {num(x['cpu_s_per_million_samples'], 2)} "
                    f"CPU-s | {num(x['rss_mb'])} MB | {num(x['bytes_per_sample_on_disk'], 2)} B | "
                    f"{num(x['index_bytes_per_series'])} B | {num(x['national_query_ms'], 1)} ms |")
    rows.append("")
    if "central_mb_per_1000_devices" in f:
        rows.append(f"Central memory per 1,000 more devices: {num(f['central_mb_per_1000_devices'], 1)} MB. ")
    else:
        rows.append("")
    m = r["machine"]
    rows[-1] += (f"{r['notes']}. One run on {m['cpus']} CPUs (load average {m['load_average'][0]:.1f} at the end), "
                 f"{r['measured_at'][:10]} (`bench/results/bench_central.json`).")
    return "\n".join(rows) + "\n"


BLOCKS: dict[str, Callable[[Sources], str]] = {"bench.noc.table": _noc_table, "bench.scaleout.table": _scaleout_table,
                                                "plan.cloud.table": _cloud_table, "bench.snmp.table": _snmp_table,
                                                "bench.mutation.table": _mutation_table,
                                                "bench.central.table": _central_table}




@dataclass(frozen=True)
class Drift:
    file: Path
    line: int
    name: str
    written: str
    actual: str | None  # None: unknown figure name
    error: str = ""

    def __str__(self) -> str:
        if self.actual is None:
            return f"{self.file}:{self.line}: {self.error or f'unknown figure {self.name!r}'}"
        return f"{self.file}:{self.line}: {self.name} is {self.actual}, the text says {self.written}"


def _value(name: str, src: Sources, cache: dict) -> tuple[str | None, str]:
    if name not in cache:
        fn = FIGURES.get(name)
        try:
            cache[name] = (fn(src), "") if fn else (None, f"unknown figure {name!r}")
        except (RuntimeError, KeyError, ValueError) as e:
            cache[name] = (None, f"{name}: {e}")
    return cache[name]


def scan(files: list[Path], src: Sources, *, write: bool = False) -> list[Drift]:
    """Drifted or unknown figures (after rewriting them when `write`); files are written whole or not."""
    drifts: list[Drift] = []
    cache: dict = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        text = _blocks(path, text, src, drifts, write)
        out_lines = []
        for no, line in enumerate(text.splitlines(keepends=True), 1):
            def sub(m: re.Match) -> str:
                actual, err = _value(m["name"], src, cache)
                if actual is None:
                    drifts.append(Drift(path, no, m["name"], m["value"], None, err))
                    return m[0]
                if actual != m["value"]:
                    drifts.append(Drift(path, no, m["name"], m["value"], actual))
                return f"<!--fig:{m['name']}-->{actual}<!--/fig-->"
            out_lines.append(MARKER.sub(sub, line))
        new = "".join(out_lines)
        if write and new != path.read_text(encoding="utf-8"):
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(path)
    return drifts


def _blocks(path: Path, text: str, src: Sources, drifts: list, write: bool) -> str:
    def sub(m: re.Match) -> str:
        line = text.count("\n", 0, m.start()) + 1
        fn = BLOCKS.get(m["name"])
        if fn is None:
            drifts.append(Drift(path, line, m["name"], "(block)", None, f"unknown block {m['name']!r}"))
            return m[0]
        try:
            body = fn(src)
        except (RuntimeError, KeyError, ValueError) as e:
            drifts.append(Drift(path, line, m["name"], "(block)", None, f"{m['name']}: {e}"))
            return m[0]
        if body != m["body"]:
            drifts.append(Drift(path, line, m["name"], "(block)", "(regenerated block)"))
        return m["open"] + body + m["close"]
    return BLOCK.sub(sub, text)


def unmarked_counts(files: list[Path]) -> list[str]:
    """`file:line: text` for counts typed in prose outside a marker (fenced transcripts and generated blocks excepted)."""
    found = []
    for path in files:
        fenced = generated = False
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if line.startswith("<!--figblock:") or line.startswith("<!--/figblock-->"):
                generated = line.startswith("<!--figblock:")  # a block's lines are its source's, not typed
                continue
            if fenced or generated or NOFIG in line:
                continue
            for m in COUNTED.finditer(MARKER.sub("", line)):
                found.append(f"{path}:{no}: {m[0]!r} is typed, not a figure (<!--fig:…--> or {NOFIG})")
    return found
