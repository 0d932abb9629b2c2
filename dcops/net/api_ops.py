"""One vendor-API operation on one device, for playbooks and drills (run on the controller).

    python -m dcops.net.api_ops backup   --platform fortios --host H --device D --backups DIR
    python -m dcops.net.api_ops arm      --platform panos   --host H --device D --config FILE --revert-after S
    python -m dcops.net.api_ops confirm  --platform panos   --host H --device D
    python -m dcops.net.api_ops rollback --platform panos   --host H --device D

The credential comes from the platform's `token_ref` (an environment variable), never from the
command line. `backup` stores a new Oxidized-style backup only when the configuration changed and
prints `saved PATH` or `unchanged PATH`. `arm` loads FILE and commits it with the operator-side
revert of api_base armed for S seconds, and leaves it pending: a later `confirm` (or `rollback`, or
the timer) ends it — so a drill can check traffic between the two. Exit 0 on success; else 1 with
the device and the step on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import backup as backup_mod
from . import platforms
from .connect import Endpoint, make_driver, resolve_ref


def _driver(a, token: str | None = None):
    plat = platforms.load(a.platform)
    ref = plat.driver.get("token_ref")
    if not ref:
        raise SystemExit(f"{a.device}: platform {a.platform} has no vendor-API driver in dcops")
    extra = {"https": a.https}
    if a.state_dir:
        extra["state_dir"] = a.state_dir
    port = a.port or int((plat.driver.get("optional_args") or {}).get("port", 443))
    ep = Endpoint(a.host, "dcops", port=port, password=resolve_ref(ref), extra=extra)
    return make_driver(a.platform, ep, timeout=a.timeout, lock_token=token), plat


def _pending_token(d) -> str | None:
    for f in (d.state / "pending.json",):
        if f.exists():
            return json.loads(f.read_text(encoding="utf-8")).get("token")
    return None


def run(a) -> str:
    d, plat = _driver(a)
    if a.op in ("confirm", "rollback"):  # act as the push that armed it: its lock token
        token = _pending_token(d)
        if token:
            d, plat = _driver(a, token)
    step = "connect"
    try:
        d.open()
        if a.op == "backup":
            step = "backup"
            text = d.get_config(retrieve="running")["running"]
            last = backup_mod.history(Path(a.backups), a.device)
            if last and last[-1].read_text(encoding="utf-8").strip() == text.strip():
                return f"unchanged {last[-1]}"
            return f"saved {backup_mod.save(Path(a.backups), a.device, text, plat.extension)}"
        if a.op == "arm":
            step = "load"
            d.load_replace_candidate(config=Path(a.config).read_text(encoding="utf-8"))
            step = "commit"
            d.commit_config(message="dcops restore", revert_in=a.revert_after)
            return f"armed: reverts in {a.revert_after} s unless confirmed"
        if a.op == "confirm":
            step = "confirm"
            d.confirm_commit()
            return "confirmed"
        step = "rollback"
        d.rollback()
        return "rolled back"
    except Exception as e:
        raise SystemExit(f"{a.device}: {step} failed: {e}") from e
    finally:
        d.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dcops.net.api_ops")
    p.add_argument("op", choices=("backup", "arm", "confirm", "rollback"))
    p.add_argument("--platform", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int)
    p.add_argument("--device", required=True)
    p.add_argument("--backups", default="backups")
    p.add_argument("--config")
    p.add_argument("--revert-after", type=int, default=120)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--state-dir")
    p.add_argument("--https", action=argparse.BooleanOptionalAction, default=True)
    a = p.parse_args(argv)
    if a.op == "arm" and not a.config:
        p.error("arm needs --config")
    print(run(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
