"""The counts docs/cloud.md quotes are the plans' own (they drifted once: 1,075 written, 1,053 planned)."""
from __future__ import annotations

from dcops import PROJECT_ROOT
from dcops.cloud.figures import END, START, render


def test_docs_quote_the_plans_figures(prod, dr):
    text = (PROJECT_ROOT / "docs" / "cloud.md").read_text(encoding="utf-8")
    assert START in text and END in text, "docs/cloud.md lost its generated figures block"
    block = text[text.index(START): text.index(END) + len(END)]
    assert block == render(prod.plan, dr.plan), "regenerate: python -m dcops.cloud.figures"
