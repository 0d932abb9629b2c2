"""The reviewable plan: every resource the program declares, as deterministic JSON.

Same inventory -> byte-identical JSON: resources sorted by (type, name), keys sorted,
no timestamps, mock IDs derived from names. A plan is keyed by (type, name), which is
what `diff()` compares.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from .desired import Desired
from .offline import PROJECT, Recorded

FORMAT = "dcops-plan/1"


class PlanInvalid(ValueError):
    pass


def short_type(token: str) -> str:
    """openstack:compute/instance:Instance -> compute.Instance; dcops:cloud:Server -> component.Server."""
    if token.startswith("pulumi:providers:"):
        return "provider." + token.rsplit(":", 1)[-1]
    parts = token.split(":")
    if parts[0] == "pulumi-python":  # a dynamic provider's type: pulumi-python:dynamic/bacula:Job -> bacula.Job
        return f"{parts[1].rsplit('/', 1)[-1]}.{parts[-1]}"
    if parts[0] == "dcops":
        return "component." + parts[-1]
    module = parts[1].split("/")[0] if len(parts) > 2 else parts[0]
    return f"{module}.{parts[-1]}"


def _logical(urn: str | None) -> str | None:
    return urn.rsplit("::", 1)[-1] if urn else None


def build_plan(recorded: list[Recorded], d: Desired, *, stack: str, inventory_digest: str,
               findings: list[dict]) -> dict:
    by_urn = {r.urn: r for r in recorded}

    def tenant_of(r: Recorded) -> str | None:
        seen = r
        while seen is not None:
            t = seen.inputs.get("tenant") if not seen.custom else None
            if isinstance(t, str):
                return t
            seen = by_urn.get(seen.parent_urn) if seen.parent_urn else None
        return None

    resources = []
    for r in recorded:
        parent = by_urn.get(r.parent_urn) if r.parent_urn else None
        extra = {"protect": True} if r.protect else {}
        if r.options:
            extra["options"] = dict(r.options)
        resources.append({
            **extra,
            "type": r.type,
            "name": r.name,
            "kind": short_type(r.type),
            "custom": r.custom,
            "parent": f"{parent.type}::{parent.name}" if parent else None,
            "provider": _logical(r.provider_urn),
            "tenant": tenant_of(r),
            "inputs": r.inputs,
        })
    resources.sort(key=lambda x: (x["type"], x["name"]))
    keys = Counter((x["type"], x["name"]) for x in resources)
    dupes = [f"{t}::{n}" for (t, n), c in keys.items() if c > 1]
    if dupes:
        raise PlanInvalid(f"resource names not unique per type: {', '.join(sorted(dupes))}")
    custom = [x for x in resources if x["custom"]]
    return {
        "format": FORMAT,
        "project": PROJECT,
        "stack": stack,
        "scope": d.scope,
        "site": d.site,
        "inventory_sha256": inventory_digest,
        "systems": list(d.systems),
        "summary": {
            "resources": len(custom),
            "components": len(resources) - len(custom),
            "by_type": dict(sorted(Counter(x["kind"] for x in custom).items())),
            "by_tenant": dict(sorted(Counter(x["tenant"] or "(site)" for x in custom).items())),
        },
        "notes": [asdict(n) for n in d.notes],
        "findings": findings,
        "resources": resources,
    }


def dumps(plan: dict) -> str:
    return json.dumps(plan, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Temp file + rename: a failed run never leaves a half-written plan behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_plan(path: Path | str) -> dict:
    path = Path(path)
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PlanInvalid(f"{path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise PlanInvalid(f"{path}: not JSON ({e.msg} at line {e.lineno})") from e
    if not isinstance(plan, dict) or plan.get("format") != FORMAT or not isinstance(plan.get("resources"), list):
        raise PlanInvalid(f"{path}: not a {FORMAT} plan (run `dcops plan --json FILE`)")
    return plan


def inventory_digest(inv) -> str:
    return hashlib.sha256(inv.model_dump_json().encode("utf-8")).hexdigest()
