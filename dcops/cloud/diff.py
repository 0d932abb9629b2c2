"""Diff of two plans: what a pull request adds, changes and deletes in the cloud, as text or Markdown."""
from __future__ import annotations

import re
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


def _ref(typ: str, name: str) -> str:
    """The mock ID other resources hold for this one (offline.mock_id)."""
    tail = typ.split(":")[1] if typ.count(":") >= 2 else typ
    return f"<{tail}:{name}>"


#: how bad a change is, worst first
ACTIONS = ("cannot-apply", "replace", "update", "ignored", "state")
#: replacing these interrupts the service (or, for volumes, loses the data)
DOWNTIME = {"openstack:compute/instance:Instance", "openstack:networking/port:Port",
            "openstack:blockstorage/volume:Volume", "openstack:compute/volumeAttach:VolumeAttach",
            "openstack:loadbalancer/loadBalancer:LoadBalancer", "openstack:loadbalancer/listener:Listener",
            "openstack:loadbalancer/pool:Pool", "openstack:networking/network:Network",
            "openstack:networking/subnet:Subnet", "openstack:networking/floatingIp:FloatingIp",
            "openstack:networking/router:Router", "openstack:networking/routerInterface:RouterInterface"}
#: one blast-radius warning per service, not per port and attachment that follows it
SERVICE_TYPES = {"openstack:compute/instance:Instance", "openstack:loadbalancer/loadBalancer:LoadBalancer"}
T_VOLUME = "openstack:blockstorage/volume:Volume"
T_INSTANCE = "openstack:compute/instance:Instance"
T_PORT = "openstack:networking/port:Port"
SERVER = "dcops:cloud:Server"


def _classify(r: dict, path: str, old: Any, new: Any) -> tuple[str, str | None]:
    """(action, why) for one changed input of resource `r` (the new side), from the provider's table."""
    from .replacement import action

    if path in ("(provider)", "(parent)"):
        return "replace", "another provider/parent is another resource to Pulumi"
    if path.startswith("(") or path.startswith("options."):
        return "state", None
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    if top in ((r.get("options") or {}).get("ignoreChanges") or ()):
        return "ignored", "ignore_changes: pulumi up keeps the value the resource has"
    if r["type"] == T_VOLUME and path == "size" and isinstance(old, int) and isinstance(new, int) and new < old:
        return "cannot-apply", f"Cinder cannot shrink a volume ({old} GB -> {new} GB)"
    if r["type"] == T_VOLUME and path == "volumeType" and old is not None:
        return "cannot-apply", (f"retype {old} -> {new} moves the data to another SAN pool (backend); the "
                                "provider's volume_retype_policy 'never' makes Cinder refuse it: migrate by a reviewed runbook")
    act = action(r["type"], path)
    if act == "update" and r["type"] == T_INSTANCE and path in ("flavorName", "flavorId"):
        return "update", "resize: the server reboots"
    return act, None


def _changes(ra: dict, rb: dict, ids: dict[str, str]) -> list[dict]:
    fa = _flatten(_renamed(ra["inputs"], ids))
    fb = _flatten(rb["inputs"])
    for field in ("parent", "provider", "protect"):
        fa[f"({field})"], fb[f"({field})"] = ids.get(ra.get(field), ra.get(field)), rb.get(field)
    fa.update(_flatten({"options": {k: v for k, v in (ra.get("options") or {}).items() if k != "aliases"}}))
    fb.update(_flatten({"options": {k: v for k, v in (rb.get("options") or {}).items() if k != "aliases"}}))
    fa.pop("options", None), fb.pop("options", None)
    out = []
    for p in sorted(fa.keys() | fb.keys()):
        if fa.get(p) != fb.get(p):
            act, why = _classify(rb, p, fa.get(p), fb.get(p))
            out.append({"path": p, "old": fa.get(p), "new": fb.get(p), "action": act, **({"why": why} if why else {})})
    return out


def _renamed(value: Any, ids: dict[str, str]) -> Any:
    """Old inputs with references to renamed (aliased) resources rewritten: an alias keeps the ID."""
    if not ids:
        return value
    if isinstance(value, dict):
        return {k: _renamed(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, ids) for v in value]
    return ids.get(value, value) if isinstance(value, str) else value


def _worst(changes: list[dict]) -> str:
    return min((c["action"] for c in changes), key=ACTIONS.index, default="state")


def diff(old: dict, new: dict) -> dict:
    a = {_key(r): r for r in old["resources"]}
    b = {_key(r): r for r in new["resources"]}
    # renames: a new resource whose alias names a resource that disappears is that resource, renamed
    renamed: dict[tuple[str, str], tuple[str, str]] = {}
    for k in sorted(b.keys() - a.keys()):
        for alias in (b[k].get("options") or {}).get("aliases") or ():
            ok = (k[0], alias)
            if ok in a and ok not in b and ok not in renamed.values():
                renamed[k] = ok
                break
    ids = {}
    for nk, ok in renamed.items():
        ids[_ref(*ok)] = _ref(*nk)
        ids[f"{ok[0]}::{ok[1]}"] = f"{nk[0]}::{nk[1]}"
    added = [b[k] for k in sorted(b.keys() - a.keys() - renamed.keys())]
    removed = [a[k] for k in sorted(a.keys() - b.keys() - set(renamed.values()))]
    pairs = [(a[k], b[k]) for k in sorted(a.keys() & b.keys())] + [(a[renamed[k]], b[k]) for k in sorted(renamed)]
    entries: dict[tuple[str, str], dict] = {}
    for ra, rb in pairs:
        changes = _changes(ra, rb, ids)
        if changes or ra["name"] != rb["name"]:
            entries[_key(rb)] = {"type": rb["type"], "name": rb["name"], "kind": rb["kind"], "tenant": rb.get("tenant"),
                                 "renamed_from": ra["name"] if ra["name"] != rb["name"] else None,
                                 "protect": bool(ra.get("protect") or rb.get("protect")),
                                 "delete_first": bool((rb.get("options") or {}).get("deleteBeforeReplace")),
                                 "changes": changes}
    _propagate(pairs, entries)
    changed = []
    for k in sorted(entries):
        e = entries[k]
        e["action"] = _worst(e["changes"]) if e["changes"] else "rename"
        e["downtime"] = e["action"] == "replace" and e["type"] in DOWNTIME
        changed.append(e)
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
        "blast": _blast(added, removed, changed),
        "new_findings": [dict(zip(("severity", "check", "subject", "message"), f)) for f in sorted(new_f - old_f)],
        "resolved_findings": [dict(zip(("severity", "check", "subject", "message"), f))
                              for f in sorted(old_f - new_f)],
    }


def _propagate(pairs: list[tuple[dict, dict]], entries: dict) -> None:
    """A replaced resource gets a new ID: every resource holding the old one changes that input too
    (a replaced port replaces the server booted on it). Offline IDs never change, so this is explicit."""
    done: set[str] = set()
    while True:
        fresh = {_ref(e["type"], e["name"]) for e in entries.values() if _worst(e["changes"]) == "replace"} - done
        if not fresh:
            return
        done |= fresh
        for ra, rb in pairs:
            flat = _flatten(rb["inputs"])
            for path, value in flat.items():
                held = [v for v in (value if isinstance(value, list) else [value]) if v in fresh]
                if not held:
                    continue
                e = entries.setdefault(_key(rb), {
                    "type": rb["type"], "name": rb["name"], "kind": rb["kind"], "tenant": rb.get("tenant"),
                    "renamed_from": ra["name"] if ra["name"] != rb["name"] else None,
                    "protect": bool(ra.get("protect") or rb.get("protect")),
                    "delete_first": bool((rb.get("options") or {}).get("deleteBeforeReplace")), "changes": []})
                if any(c["path"] == path for c in e["changes"]):
                    continue
                act, why = _classify(rb, path, value, "[new ID]")
                e["changes"].append({"path": path, "old": value, "new": f"[new ID: {', '.join(held)} replaced]",
                                     "action": act, "why": why or "follows the replacement of what it references"})
                e["changes"].sort(key=lambda c: c["path"])


def _blast(added: list[dict], removed: list[dict], changed: list[dict]) -> list[dict]:
    """What a reviewer must not miss: errors stop `dcops plan --diff` (exit 1)."""
    out = []

    def f(sev, check, subject, message):
        out.append({"severity": sev, "check": check, "subject": subject, "message": message})

    for c in changed:
        if c["action"] == "cannot-apply":
            for ch in c["changes"]:
                if ch["action"] == "cannot-apply":
                    f("error", "cannot-apply", c["name"], f"{ch['path']}: {ch['why']}")
        elif c["action"] == "replace":
            causes = ", ".join(ch["path"] for ch in c["changes"] if ch["action"] == "replace")
            if c["protect"]:
                f("error", "replace-protected", c["name"],
                  f"{c['kind']} is protected (data) and {causes} forces its replacement: pulumi up stops there")
            elif c["type"] in SERVICE_TYPES:
                f("warning", "replace-downtime", c["name"],
                  f"{c['kind']} replaced ({causes}), {'deleted first' if c['delete_first'] else 'created first'}: "
                  "service interrupted")
    for r in removed:
        if not r.get("custom", True):
            continue
        if r.get("protect"):
            f("error", "delete-protected", r["name"], f"{r['kind']} is protected: {PROTECTED}")
        if r["type"] == T_INSTANCE and (r["inputs"].get("metadata") or {}).get("dr") == "true":
            f("error", "delete-dr-system", r["name"],
              f"VM of DR-required system {r['inputs']['metadata'].get('system')} deleted")
    # a VM that disappears while another appears on its address is a rename the inventory did not declare
    def addresses(rs):
        out = {}
        for r in rs:
            if r["type"] == T_PORT and (r.get("parent") or "").startswith(SERVER + "::"):
                for fip in r["inputs"].get("fixedIps") or []:
                    out[fip.get("ipAddress")] = r["parent"].split("::", 1)[1]
        return out
    gone, came = addresses(removed), addresses(added)
    for ip in sorted(gone.keys() & came.keys()):
        f("error", "rename-without-previous-name", came[ip],
          f"{gone[ip]} is deleted and {came[ip]} created on the same address {ip}: its volumes would be "
          f"deleted and new empty ones made. Declare the rename: previous_names: [{gone[ip]}] on {came[ip]} "
          "in the inventory")
    return sorted(out, key=lambda x: (x["severity"], x["check"], x["subject"], x["message"]))


def _brief(r: dict) -> dict:
    return {"type": r["type"], "name": r["name"], "kind": r["kind"], "tenant": r.get("tenant"),
            "parent": r.get("parent"), "custom": r.get("custom", True), "protect": bool(r.get("protect")),
            "inputs": r["inputs"]}


PROTECTED = "protected: `pulumi up` stops there until an operator runs `pulumi state unprotect`"


def is_empty(d: dict) -> bool:
    return not (d["added"] or d["removed"] or d["changed"] or d["new_findings"] or d.get("blast"))


def blast_errors(d: dict) -> int:
    return sum(1 for f in d.get("blast", ()) if f["severity"] == "error")


def _fmt(v: Any) -> str:
    import json

    s = json.dumps(v, ensure_ascii=False, sort_keys=True) if not isinstance(v, str) else v
    return s if len(s) <= MAX_VALUE else s[: MAX_VALUE - 1] + "…"


def _cloud(c: dict) -> bool:
    return not c["type"].startswith("dcops:")


def _counts(d: dict) -> dict[str, int]:
    cust = lambda rs: sum(1 for r in rs if r.get("custom", True))  # noqa: E731
    ch = [c for c in d["changed"] if _cloud(c)]
    return {"add": cust(d["added"]), "change": sum(1 for c in ch if c["action"] in ("update", "ignored", "state")),
            "replace": sum(1 for c in ch if c["action"] == "replace"),
            "cannot": sum(1 for c in ch if c["action"] == "cannot-apply"),
            "rename": sum(1 for c in ch if c["renamed_from"]), "delete": cust(d["removed"])}


def _headline(d: dict) -> str:
    n = _counts(d)
    s = f"{n['add']} to add, {n['change']} to change, {n['delete']} to delete"
    extra = [f"{n['replace']} to replace", f"{n['rename']} renamed", f"{n['cannot']} cannot apply"]
    extra = [e for e, k in zip(extra, ("replace", "rename", "cannot")) if n[k]]
    return s + (", " + ", ".join(extra) if extra else "")


def _effect(c: dict) -> str:
    act = c["action"]
    if act == "replace":
        how = "delete-then-create" if c["delete_first"] else "create-then-delete"
        return f"REPLACE ({how}{', downtime' if c['downtime'] else ''})"
    if act == "cannot-apply":
        return "CANNOT APPLY"
    if act == "rename":
        return f"rename from {c['renamed_from']}"
    return act + (f", renamed from {c['renamed_from']}" if c["renamed_from"] else "")


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
    lines = [f"Plan diff ({d['stack']}): {_headline(d)}"]
    if d["old_stack"] != d["stack"]:
        lines.append(f"warning: comparing stack {d['old_stack']} with {d['stack']}")
    for f in d.get("blast", ()):
        lines.append(f"{'✗' if f['severity'] == 'error' else '!'} [{f['severity']}] {f['check']} {f['subject']}: "
                     f"{f['message']}")
    for r in d["added"]:
        if r["custom"]:
            lines.append(f"+ {r['kind']:<28} {r['name']}  {_key_inputs(r)}".rstrip())
    for c in d["changed"]:
        mark = {"replace": "±", "cannot-apply": "✗"}.get(c["action"], "~")
        plain = c["action"] in ("update", "state") and not c["renamed_from"]  # "~ kind name" says it all
        lines.append(f"{mark} {c['kind']:<28} {c['name']}" + ("" if plain else f"  [{_effect(c)}]"))
        for ch in c["changes"]:
            why = f" — {ch['why']}" if ch.get("why") else ""
            lines.append(f"      {ch['path']}: {_fmt(ch['old'])} -> {_fmt(ch['new'])}  ({ch['action']}{why})")
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
    out = [f"### Cloud plan — stack `{d['stack']}`", "",
           f"**{_headline(d)}**" + (" — no changes" if is_empty(d) else ""), ""]
    if d["old_stack"] != d["stack"]:
        out += [f"> ⚠️ comparing stack `{d['old_stack']}` with `{d['stack']}`", ""]
    if d.get("blast"):
        icon = "❌" if blast_errors(d) else "⚠️"
        out += [f"#### {icon} Blast radius", "", "| severity | check | subject | what happens |", "|---|---|---|---|"]
        out += _capped([f"| {f['severity']} | `{f['check']}` | `{_md_escape(f['subject'])}` | {_md_escape(f['message'])} |"
                        for f in d["blast"]], "blast-radius findings")
        out.append("")
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
        if _cloud(c):
            kinds[(c["kind"], "replace" if c["action"] in ("replace", "cannot-apply") else "change")] += 1
    for r in d["removed"]:
        if r["custom"]:
            kinds[(r["kind"], "delete")] += 1
    if kinds:
        out += ["| resource type | ➕ add | ✏️ change | ♻️ replace / ❌ cannot | ➖ delete |", "|---|--:|--:|--:|--:|"]
        for kind in sorted({k for k, _ in kinds}):
            out.append(f"| `{kind}` | {kinds[(kind, 'add')] or ''} | {kinds[(kind, 'change')] or ''} | "
                       f"{kinds[(kind, 'replace')] or ''} | {kinds[(kind, 'delete')] or ''} |")
        out.append("")
    if any(r["custom"] for r in d["added"]):
        out += ["<details open><summary>➕ Added</summary>", "", "| type | name | tenant | key inputs |",
                "|---|---|---|---|"]
        out += _capped([f"| `{r['kind']}` | `{r['name']}` | {r['tenant'] or ''} | {_md_escape(_key_inputs(r))} |"
                        for r in d["added"] if r["custom"]], "added (see the plan artifacts)")
        out += ["", "</details>", ""]
    if d["changed"]:
        out += ["<details open><summary>✏️ Changed</summary>", "", "| type | name | effect | input | old | new | why |",
                "|---|---|---|---|---|---|---|"]
        rows = []
        for c in d["changed"]:
            for ch in c["changes"] or [{"path": "(name)", "old": c["renamed_from"], "new": c["name"],
                                        "action": "rename"}]:
                rows.append(f"| `{c['kind']}` | `{c['name']}` | {_md_escape(_effect(c))} | `{ch['path']}` | "
                            f"{_md_escape(_fmt(ch['old']))} | {_md_escape(_fmt(ch['new']))} | "
                            f"{ch['action']}{': ' + _md_escape(ch['why']) if ch.get('why') else ''} |")
        out += _capped(rows, "changed inputs (see the plan artifacts)")
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
