"""Render an assessment for people: a terminal table or a self-contained HTML page."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rich.console import Console
from rich.table import Table

from .assess import Assessment, catalogue, messages

HERE = Path(__file__).parent


def number(value: float, lang: str, decimals: int = 0) -> str:
    """19.000 and 5,5 in Vietnamese; 19,000 and 5.5 in English."""
    text = f"{value:,.{decimals}f}"
    if lang == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


COLOURS = {"pass": "green", "fail": "red", "missing": "yellow"}


def print_table(a: Assessment, lang: str, console: Console) -> None:
    m = messages()[lang]
    doc = a.as_dict(lang)
    console.print(f"[bold]{m['title'].format(site=a.site)}[/]  ·  {m['as_of'].format(date=doc['as_of'])}")
    t = Table(show_lines=False)
    for col in (m["system"], m["level"], m["control"], m["status"], m["evidence"]):
        t.add_column(col)
    for s in doc["systems"]:
        first = True
        for c in s["controls"]:
            t.add_row(s["display_name"] if first else "", str(s["security_level"]) if first else "", c["title"],
                      f"[{COLOURS[c['status']]}]{m[c['status']]}[/]", c["message"])
            first = False
    console.print(t)
    b = Table(title=catalogue()["directive14"]["title"][lang], title_justify="left")
    for col in (m["budget_year"], m["budget_total"], m["budget_security"], m["budget_share"], m["status"]):
        b.add_column(col)
    for row in doc["directive14"]:
        share, need = round(100 * row["share"], 1), round(100 * row["min_share"])
        verdict = (f"[green]{m['budget_ok'].format(min=need)}[/]" if row["ok"]
                   else f"[red]{m['budget_low'].format(share=number(share, lang, 1), min=need)}[/]")
        b.add_row(str(row["year"]), number(row["total_million_vnd"], lang), number(row["security_million_vnd"], lang),
                  f"{number(share, lang, 1)} %", verdict)
    if not doc["directive14"]:
        console.print(f"[red]{m['no_budget']}[/]")
    else:
        console.print(b)
        for row in doc["directive14"]:
            src = f" ({row['source']})" if row.get("source") else ""
            console.print(f"{row['year']}{src} — {m['budget_security_lines']}", markup=False)
            for ln in row["security_lines"]:
                console.print(f"  • {ln['item']}: {number(ln['million_vnd'], lang)}", markup=False)
        console.print(f"[yellow]{doc['directive14_projects']['message']}[/]")
    s = doc["summary"]
    console.print(m["summary"].format(passed=s["passed"], total=s["controls"], findings=s["findings"]) + " · "
                  + m["systems_ok"].format(ok=s["systems_ok"], total=s["systems"]))


def render_html(a: Assessment, lang: str) -> str:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v, d=0: number(v, lang, d)
    return env.get_template("report.html").render(doc=a.as_dict(lang), m=messages()[lang], colours=COLOURS,
                                                  directive14_title=catalogue()["directive14"]["title"][lang])


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
