"""The counts docs/cloud.md quotes are the plans' own (they drifted once: 1,075 written, 1,053 planned)."""
from __future__ import annotations

from dcops import PROJECT_ROOT
from dcops.cloud.figures import table
from dcops.docs.figures import BLOCK


def test_docs_quote_the_plans_figures(prod, dr):
    text = (PROJECT_ROOT / "docs" / "cloud.md").read_text(encoding="utf-8")
    blocks = {m["name"]: m["body"] for m in BLOCK.finditer(text)}
    assert "plan.cloud.table" in blocks, "docs/cloud.md lost its generated plan figures block"
    assert blocks["plan.cloud.table"] == table(prod.plan, dr.plan), "regenerate: dcops docs refresh"
