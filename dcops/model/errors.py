"""Inventory problems carry the file and line they come from."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Loc:
    file: str
    line: int  # 1-based; 0 when the problem is about a whole folder

    def __str__(self) -> str:
        return f"{_shown(self.file)}:{self.line}" if self.line else _shown(self.file)


@dataclass(frozen=True, order=True)
class Problem:
    loc: Loc
    message: str
    severity: str = "error"  # or "warning"
    kind: str = ""  # "capacity" for over-capacity findings (the capacity report still prints)

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.loc}: {tag}{self.message}"

    def as_dict(self) -> dict:
        return {"file": _shown(self.loc.file), "line": self.loc.line,
                "severity": self.severity, "message": self.message}


class InventoryInvalid(Exception):
    """Raised by `load_inventory` with every problem found, sorted by place."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _shown(path: str) -> str:
    """Paths under the working directory print relative, as editors and CI annotate them."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel
