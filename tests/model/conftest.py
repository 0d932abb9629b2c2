"""Model tests run on a private copy of the shipped inventory, with their own profile/platform folders,
so they do not depend on what the network and monitoring areas ship."""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from dcops import DEFAULT_INVENTORY
from dcops.model import Validation, validate


@dataclass
class Workspace:
    inventory: Path
    profiles: Path
    platforms: Path

    def file(self, rel: str) -> Path:
        return self.inventory / rel

    def edit(self, rel: str, old: str, new: str) -> int:
        """Replace the first `old` in a file; return the 1-based line where `new` starts."""
        path = self.file(rel)
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        at = text.index(old)
        path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")
        return text[:at].count("\n") + 1

    def line_of(self, rel: str, needle: str) -> int:
        text = self.file(rel).read_text(encoding="utf-8")
        assert needle in text, f"{needle!r} not in {rel}"
        return text[: text.index(needle)].count("\n") + 1

    def validate(self) -> Validation:
        return validate(self.inventory, profiles_dir=self.profiles, platforms_dir=self.platforms)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    inv = tmp_path / "inventory"
    shutil.copytree(DEFAULT_INVENTORY, inv)
    profiles = tmp_path / "profiles"
    platforms = tmp_path / "platforms"
    profiles.mkdir()
    platforms.mkdir()
    text = "\n".join(p.read_text(encoding="utf-8") for p in inv.rglob("*.yaml"))
    for name in set(re.findall(r"profile: ([\w.-]+)", text)):
        (profiles / f"{name}.yaml").write_text("oids: []\n")
    for name in set(re.findall(r"platform: ([\w.-]+)", text)):
        (platforms / name).mkdir()
    return Workspace(inv, profiles, platforms)
