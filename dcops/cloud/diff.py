"""Diff of two plans: what a pull request adds, changes and deletes in the cloud, as text or Markdown."""
from __future__ import annotations

from collections import Counter
from typing import Any

MAX_VALUE = 120
#: rows per Markdown section: a pull-request comment is capped at 65,536 characters
MAX_ROWS = 150


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Nested inputs -> {dotted.path: scalar-or-list-of-scalars}."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{path}.{k}" if path else k))
        return out or {path: {}}
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{path}[{i}]"))
        return out
    return {path: value}


def _key(r: dict) -> tuple[str, str]:
    return r["type"], r["name"]


def diff(old: dict, new: dict) -> dict:
    a = {_key(r): r for r in old["resources"]}
    b = {_key(r): r for r in new["resources"]}
    added = [b[k] for k in sorted(b.keys() - a.keys())]
    removed = [a[k] for k in sorted(a.keys() - b.keys())]
    changed = []
    for k in sorted(a.keys() & b.keys()):
        ra, rb = a[k], b[k]
        fa = _flatten(ra["inputs"])
        fb = _flatten(rb["inputs"])
        for field in ("parent", "provider", "protect"):
            fa[f"({field})"], fb[f"({field})"] = ra.get(field), rb.get(field)
        changes = [{"path": p, "old": fa.get(p), "new": fb.get(p)}
                   for p in sorted(fa.keys() | fb.keys()) if fa.get(p) != fb.get(p)]
        if changes:
            changed.append({"type": rb["type"], "name": rb["name"], "kind": rb["kind"], "tenant": rb.get("tenant"),
                            "changes": changes})
    fkey = lambda f: (f["severity"], f["check"], f["subject"], f["message"])  # noqa: E731
    # program notes (warnings and errors) count as findings for review: e.g. a new group too big for its hosts
    as_finding = lambda n: {"severity": n["severity"], "check": n["code"], "subject": n["subject"],  # noqa: E731
                            "message": n["message"]}
    old_f = {fkey(f) for f in [*old.get("findings", []), *map(as_finding, old.get("notes", []))]
             if f["severity"] != "info"}
    new_f = {fkey(f) for f in [*new.get("findings", []), *map(as_finding, new.get("notes", []))]
             if f["severity"] != "info"}
    return {
        "stack": new.get("stack"),
        "old_stack": old.get("stack"),
        "old_inventory": old.get("inventory_sha256"),
        "new_inventory": new.get("inventory_sha256"),
        "added": [_brief(r) for r in added],
        "removed": [_brief(r) for r in removed],
        "changed": changed,
        "new_findings": [dict(zip(("severity", "check", "subject", "message"), f)) for f in sorted(new_f - old_f)],
        "resolved_findings": [dict(zip(("severity", "check", "subject", "message"), f))
                              for f in sorted(old_f - new_f)],
    }


def _brief(r: dict) -> dict:
    return {"type": r["type"], "name": r["name"], "kind": r["kind"], "tenant": r.get("tenant"),
            "parent": r.get("parent"), "custom": r.get("custom", True), "protect": bool(r.get("protect")),
            "inputs": r["inputs"]}


PROTECTED = "protected: `pulumi up` stops there until an operator runs `pulumi state unprotect`"


def is_empty(d: dict) -> bool:
    return not (d["added"] or d["removed"] or d["changed"] or d["new_findings"])


def _fmt(v: Any) -> str:
    import json

    s = json.dumps(v, ensure_ascii=False, sort_keys=True) if not isinstance(v, str) else v
    return s if len(s) <= MAX_VALUE else s[: MAX_VALUE - 1] + "…"


def _counts(d: dict) -> tuple[int, int, int]:
    cust = lambda rs: sum(1 for r in rs if r.get("custom", True))  # noqa: E731
    return cust(d["added"]), sum(1 for c in d["changed"] if not c["type"].startswith("dcops:")), cust(d["removed"])


def _key_inputs(r: dict) -> str:
    i = r["inputs"]
    picks = []
    for k in ("size", "volumeType", "flavorName", "availabilityZone", "policies", "cidr", "remoteIpPrefix",
              "portRangeMin", "protocol", "instanceId", "volumeId"):
        if k in i:
            picks.append(f"{k}={_fmt(i[k])}")
    if "fixedIps" in i:
        picks.append("ip=" + ",".join(str(f.get("ipAddress")) for f in i["fixedIps"]))
    return ", ".join(picks)


def render_text(d: dict) -> str:
    add, chg, rem = _counts(d)
    lines = [f"Plan diff ({d['stack']}): {add} to add, {chg} to change, {rem} to delete"]
    if d["old_stack"] != d["stack"]:
        lines.append(f"warning: comparing stack {d['old_stack']} with {d['stack']}")
    for r in d["added"]:
        if r["custom"]:
            lines.append(f"+ {r['kind']:<28} {r['name']}  {_key_inputs(r)}".rstrip())
    for c in d["changed"]:
        lines.append(f"~ {c['kind']:<28} {c['name']}")
        for ch in c["changes"]:
            lines.append(f"      {ch['path']}: {_fmt(ch['old'])} -> {_fmt(ch['new'])}")
    for r in d["removed"]:
        if r["custom"]:
            lines.append(f"- {r['kind']:<28} {r['name']}" + (f"  ({PROTECTED})" if r["protect"] else ""))
    for f in d["new_findings"]:
        lines.append(f"! new finding [{f['severity']}] {f['check']} {f['subject']}: {f['message']}")
    for f in d["resolved_findings"]:
        lines.append(f"✓ resolved [{f['severity']}] {f['check']} {f['subject']}")
    if is_empty(d):
        lines.append("No changes.")
    return "\n".join(lines) + "\n"


def _md_escape(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _capped(rows: list[str], what: str) -> list[str]:
    if len(rows) <= MAX_ROWS:
        return rows
    return rows[:MAX_ROWS] + [f"| … | {len(rows) - MAX_ROWS} more {what} | | |"]


def render_markdown(d: dict) -> str:
    add, chg, rem = _counts(d)
    out = [f"### Cloud plan — stack `{d['stack']}`", "",
           f"**{add} to add, {chg} to change, {rem} to delete**"
           + (" — no changes" if is_empty(d) else ""), ""]
    if d["old_stack"] != d["stack"]:
        out += [f"> ⚠️ comparing stack `{d['old_stack']}` with `{d['stack']}`", ""]
    if d["new_findings"]:
        icon = "❌" if any(f["severity"] == "error" for f in d["new_findings"]) else "⚠️"
        out += [f"#### {icon} New findings", "", "| severity | check | subject | finding |", "|---|---|---|---|"]
        out += [f"| {f['severity']} | `{f['check']}` | `{_md_escape(f['subject'])}` | {_md_escape(f['message'])} |"
                for f in d["new_findings"]]
        out.append("")
    kinds = Counter()
    for r in d["added"]:
        if r["custom"]:
            kinds[(r["kind"], "add")] += 1
    for c in d["changed"]:
        if not c["type"].startswith("dcops:"):
            kinds[(c["kind"], "change")] += 1
    for r in d["removed"]:
        if r["custom"]:
            kinds[(r["kind"], "delete")] += 1
    if kinds:
        out += ["| resource type | ➕ add | ✏️ change | ➖ delete |", "|---|--:|--:|--:|"]
        for kind in sorted({k for k, _ in kinds}):
            out.append(f"| `{kind}` | {kinds[(kind, 'add')] or ''} | {kinds[(kind, 'change')] or ''} | "
                       f"{kinds[(kind, 'delete')] or ''} |")
        out.append("")
    if any(r["custom"] for r in d["added"]):
        out += ["<details open><summary>➕ Added</summary>", "", "| type | name | tenant | key inputs |",
                "|---|---|---|---|"]
        out += _capped([f"| `{r['kind']}` | `{r['name']}` | {r['tenant'] or ''} | {_md_escape(_key_inputs(r))} |"
                        for r in d["added"] if r["custom"]], "added (see the plan artifacts)")
        out += ["", "</details>", ""]
    if d["changed"]:
        out += ["<details open><summary>✏️ Changed</summary>", "", "| type | name | input | old | new |",
                "|---|---|---|---|---|"]
        out += _capped([f"| `{c['kind']}` | `{c['name']}` | `{ch['path']}` | {_md_escape(_fmt(ch['old']))} | "
                        f"{_md_escape(_fmt(ch['new']))} |" for c in d["changed"] for ch in c["changes"]],
                       "changed inputs (see the plan artifacts)")
        out += ["", "</details>", ""]
    if any(r["custom"] for r in d["removed"]):
        protected = [r for r in d["removed"] if r["custom"] and r["protect"]]
        if protected:
            out += [f"> 🛡️ **{len(protected)} protected resource(s) deleted** ({PROTECTED}): "
                    + ", ".join(f"`{r['name']}`" for r in protected[:20]) + (" …" if len(protected) > 20 else ""), ""]
        out += ["<details open><summary>➖ Deleted</summary>", "", "| type | name | tenant | |", "|---|---|---|---|"]
        out += _capped([f"| `{r['kind']}` | `{r['name']}` | {r['tenant'] or ''} | {'🛡️ protected' if r['protect'] else ''} |"
                        for r in d["removed"] if r["custom"]], "deleted (see the plan artifacts)")
        out += ["", "</details>", ""]
    if d["resolved_findings"]:
        out += ["#### ✅ Resolved findings", ""]
        out += [f"- `{f['check']}` `{_md_escape(f['subject'])}`: {_md_escape(f['message'])}"
                for f in d["resolved_findings"]]
        out.append("")
    out.append(f"<sub>inventory {str(d['old_inventory'])[:12]} → {str(d['new_inventory'])[:12]} · "
               "generated offline by `dcops plan --diff`</sub>")
    return "\n".join(out) + "\n"
