"""`dcops docs refresh|check`: the figures the README and docs quote, recomputed from their sources."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from dcops.console import Console

from .figures import Sources, doc_files, scan, unmarked_counts

app = typer.Typer(help="Figures in README.md and docs/ (inventory counts, plan sizes, bench results).",
                  no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True, highlight=False)
FilesArg = typer.Argument(None, help="Markdown files (default: README.md and docs/*.md).")


@app.command("check")
def check_cmd(files: Optional[List[Path]] = FilesArg,
              as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON.")) -> None:
    """Exit 1 when a figure differs from its source, is unknown, or a count is typed without a marker."""
    paths = files or doc_files()
    drifts = scan(paths, Sources())
    typed = unmarked_counts(paths)
    if as_json:
        print(json.dumps({"ok": not drifts and not typed,
                          "drifts": [{"file": str(d.file), "line": d.line, "figure": d.name,
                                      "written": d.written, "actual": d.actual, "error": d.error}
                                     for d in drifts],
                          "typed_counts": typed}, ensure_ascii=False, indent=2))
    else:
        for line in [*map(str, drifts), *typed]:
            err.print(line, markup=False)
        if not drifts and not typed:
            err.print(f"docs: every figure in {len(paths)} file(s) matches its source")
    if drifts or typed:
        raise typer.Exit(1)


@app.command("refresh")
def refresh_cmd(files: Optional[List[Path]] = FilesArg,
                as_json: bool = typer.Option(False, "--json", help="Print what changed as JSON.")) -> None:
    """Rewrite every figure from its source (unknown figures are errors and are left as they are)."""
    drifts = scan(files or doc_files(), Sources(), write=True)
    unknown = [d for d in drifts if d.actual is None]
    if as_json:
        print(json.dumps([{"file": str(d.file), "line": d.line, "figure": d.name, "was": d.written,
                           "now": d.actual, "error": d.error} for d in drifts], ensure_ascii=False, indent=2))
    else:
        for d in drifts:
            err.print(str(d) if d.actual is None else f"{d.file}:{d.line}: {d.name} {d.written} → {d.actual}",
                      markup=False)
    if unknown:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="docs")
