"""No secret in git: detect-secrets over every tracked file, against the reviewed baseline.

`.secrets.baseline` lists what was reviewed and is not a secret (lab simulator keys that say so, Pulumi's
mock signature constant, `${secret:env:…}` references in the goldens). Anything new fails here; after review,
`.venv/bin/detect-secrets scan --exclude-files '^\\.secrets\\.baseline$' > .secrets.baseline` records it.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOOK = Path(sys.executable).with_name("detect-secrets-hook")


def _hook(baseline: Path, files: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(HOOK), "--json", "--baseline", str(baseline), *files], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def baseline(tmp_path):
    copy = tmp_path / "baseline.json"  # the hook rewrites line numbers in place: never in the tree
    shutil.copy(ROOT / ".secrets.baseline", copy)
    return copy


@pytest.mark.slow
def test_no_new_secret_in_any_tracked_file(baseline):
    files = [f for f in subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                                       check=True).stdout.split()
             if f != ".secrets.baseline"]  # the baseline holds hashes of what it lists: not secrets
    assert len(files) > 100
    proc = _hook(baseline, files)
    assert proc.returncode in (0, 3), f"new secrets (review, then rescan the baseline):\n{proc.stdout}{proc.stderr}"


def test_a_planted_key_is_caught(baseline, tmp_path):
    planted = tmp_path / "leak.yaml"
    planted.write_text('snmp:\n  priv_key: "Zx9#kQ2!vB7$mL4@pR8^tW3&"\naws_access_key_id: AKIAQWERTYUIOPASDFGH\n',
                       encoding="utf-8")
    proc = _hook(baseline, [str(planted)])
    assert proc.returncode == 1
    found = {s["type"] for s in json.loads(proc.stdout)["results"][str(planted)]}
    assert {"AWS Access Key", "Secret Keyword"} <= found
