"""Check the fortios keyword table (docs/network.md) against Fortinet's own FortiOS schema.

Fortinet's Ansible collection (github.com/fortinet-ansible-dev/ansible-galaxy-fortios-collection) carries,
per CLI table, the `versioned_schema` Fortinet generates from FortiOS: every option name (`_` for `-`),
its version ranges and its allowed values. This prints, per table row, the keywords that are not in the
schema for VERSION and the rendered option values the schema does not allow.

    python scripts/verify_fortios_keywords.py /path/to/ansible-galaxy-fortios-collection [v7.2.8]

Not a test: it needs that checkout (the rows it confirmed are marked ✓ in docs/network.md).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

from dcops import PROJECT_ROOT
from dcops.net import keywords


def schema(repo: Path, table: str) -> dict | None:
    f = repo / "plugins" / "modules" / f"fortios_{table}.py"
    if not f.is_file():
        return None
    for node in ast.parse(f.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "versioned_schema":
            return ast.literal_eval(node.value)
    return None


def _v(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.lstrip("v").split("."))


def covers(ranges, version: str) -> bool:
    return ranges is None or any(_v(a) <= _v(version) and (not b or _v(version) <= _v(b)) for a, b in ranges)


def rendered_values(texts: list[str]) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for text in texts:
        stack: list[str] = []
        in_string = False
        for raw in text.splitlines():
            line = raw.strip()
            if in_string:
                in_string = line.count('"') % 2 == 0
                continue
            word, _, rest = line.partition(" ")
            if word == "config":
                stack.append(" ".join(t for t in rest.split() if not t.startswith('"')))
            elif word == "end" and stack:
                stack.pop()
            elif word == "set" and stack:
                key, _, value = rest.partition(" ")
                in_string = rest.count('"') % 2 == 1
                out.setdefault(" / ".join(stack), {}).setdefault(key, set()).add(value)
    return out


def check(repo: Path, version: str = "v7.2.8") -> dict[str, list[str]]:
    tables = keywords.parse_tables((PROJECT_ROOT / "docs" / keywords.DOC).read_text(encoding="utf-8"))["fortios"]
    golden = sorted((PROJECT_ROOT / "network_configs" / "golden").glob("*.conf"))
    texts = [p.read_text(encoding="utf-8") for p in golden if "config firewall policy" in p.read_text(encoding="utf-8")]
    values = rendered_values(texts)
    report: dict[str, list[str]] = {}
    for block, (kws, _) in sorted(tables.items()):
        top, *nested = block.split(" / ")
        node = schema(repo, top.replace(" ", "_").replace("-", "_"))
        if node is None:
            report[block] = ["no such table in the schema"]
            continue
        for n in nested:
            node = node.get("children", {}).get(n.replace("-", "_"), {})
        problems = []
        if not covers(node.get("v_range"), version):
            problems.append(f"table not in {version}: {node.get('v_range')}")
        children = node.get("children", {})
        for k in sorted(kws):
            c = children.get(k.replace("-", "_"))
            if c is None:
                problems.append(f"{k}: not in the schema")
                continue
            if not covers(c.get("v_range"), version):
                problems.append(f"{k}: not in {version} ({c.get('v_range')})")
            allowed = [o["value"] for o in c.get("options", []) if covers(o.get("v_range"), version)]
            for v in values.get(block, {}).get(k, ()) if allowed else ():
                problems += [f"{k} {w}: not one of {allowed}" for w in v.split() if w.strip('"') not in allowed]
        report[block] = problems
    return report


if __name__ == "__main__":
    res = check(Path(sys.argv[1]), *(sys.argv[2:3] or []))
    for block, problems in res.items():
        print(f"{block}: {'; '.join(problems) or 'OK'}")
    sys.exit(1 if any(res.values()) else 0)
