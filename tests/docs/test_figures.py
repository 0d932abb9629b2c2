"""README and docs figures cannot drift: each is computed from its source and checked here."""
import json
import subprocess
import sys

import pytest

from dcops.docs.figures import FIGURES, Sources, doc_files, scan, unmarked_counts


@pytest.fixture(scope="module")
def sources():
    return Sources()


def test_every_figure_in_the_docs_matches_its_source(sources):
    drifts = scan(doc_files(), sources)
    assert not drifts, "\n".join(map(str, drifts)) + "\n(run: .venv/bin/dcops docs refresh)"


def test_no_count_is_typed_outside_a_figure():
    assert not unmarked_counts(doc_files())


def test_drift_is_reported_with_file_and_line_and_refresh_fixes_it(tmp_path, sources):
    md = tmp_path / "x.md"
    md.write_text("intro\nThe site has <!--fig:vms-->1<!--/fig--> VMs and <!--fig:nope-->7<!--/fig--> x.\n",
                  encoding="utf-8")
    drifts = scan([md], sources)
    vms = sources.inventory["vms"]
    assert [(d.line, d.name, d.written, d.actual) for d in drifts] == [(2, "vms", "1", f"{vms:,}"),
                                                                       (2, "nope", "7", None)]
    assert str(drifts[0]) == f"{md}:2: vms is {vms:,}, the text says 1"
    scan([md], sources, write=True)
    assert f"<!--fig:vms-->{vms:,}<!--/fig--> VMs" in md.read_text(encoding="utf-8")
    assert "<!--fig:nope-->7<!--/fig-->" in md.read_text(encoding="utf-8")  # unknown: left alone


def test_typed_counts_are_found_outside_fences_and_nofig_lines(tmp_path):
    md = tmp_path / "y.md"
    md.write_text("We run 154 VMs.\n```\n1053 resources\n```\n10,000 hosts in the bench <!--nofig-->\n"
                  "<!--figblock:plan.cloud.table-->\n| 25 systems |\n<!--/figblock-->\nand 33 hosts after it.\n",
                  encoding="utf-8")
    assert unmarked_counts([md]) == [f"{md}:1: '154 VMs' is typed, not a figure (<!--fig:…--> or <!--nofig-->)",
                                     f"{md}:9: '33 hosts' is typed, not a figure (<!--fig:…--> or <!--nofig-->)"]


def test_cli_check_exits_1_on_drift_with_json(tmp_path):
    md = tmp_path / "z.md"
    md.write_text("<!--fig:hosts-->0<!--/fig--> hosts\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "dcops.cli", "docs", "check", str(md), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["ok"] is False and out["drifts"][0]["figure"] == "hosts" and out["drifts"][0]["line"] == 1


@pytest.mark.parametrize("name", sorted(n for n in FIGURES if not n.startswith("bench.")))
def test_every_model_figure_computes(name, sources):
    assert FIGURES[name](sources)


def test_a_generated_block_is_checked_and_refreshed_whole(tmp_path, sources):
    md = tmp_path / "b.md"
    md.write_text("before\n<!--figblock:bench.noc.table-->\n| stale | table |\n<!--/figblock-->\nafter\n", encoding="utf-8")
    (drift,) = scan([md], sources)
    assert (drift.line, drift.name, drift.actual) == (2, "bench.noc.table", "(regenerated block)")
    scan([md], sources, write=True)
    text = md.read_text(encoding="utf-8")
    assert "| stale |" not in text and "| overview |" in text and text.endswith("<!--/figblock-->\nafter\n")
    assert scan([md], sources) == []
