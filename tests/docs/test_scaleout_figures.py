"""bench_scaleout.py's results become the README's side-by-side table and figures, exactly."""
import json

from dcops.docs.figures import FIGURES, Sources, scan


def _results(root):
    doc = {"bench": "bench_scaleout", "measured_at": "2026-11-30T15:40:00+00:00",
           "machine": {"cpus": 2, "cpu": "x", "python": "3.11", "load_average": [9.25, 8.0, 7.0]}, "notes": "",
           "figures": {
               "n1000": {"embedded_cycle_s": 1.5, "embedded_render_s": 0.5, "embedded_rss_mb": 62.2, "series": 34023,
                         "prometheus_scrape_s": 0.11, "prometheus_rules_s": 1.28, "prometheus_rss_mb": 173.4,
                         "embedded_devices_per_s": 667, "prometheus_devices_per_s": 719},
               "n5000": {"embedded_cycle_s": 8.0, "embedded_render_s": 2.5, "embedded_rss_mb": 140.0,
                         "series": 170023, "prometheus_scrape_s": 0.6, "prometheus_rules_s": 6.1,
                         "prometheus_rss_mb": 600.0, "embedded_devices_per_s": 625, "prometheus_devices_per_s": 746},
               "embedded_mb_per_1000_devices": 19.45, "prometheus_mb_per_1000_devices": 106.65}}
    (root / "bench" / "results").mkdir(parents=True)
    (root / "bench" / "results" / "bench_scaleout.json").write_text(json.dumps(doc), encoding="utf-8")


def test_scaleout_block_and_figures_come_from_the_bench_results(tmp_path):
    _results(tmp_path)
    src = Sources(root=tmp_path)
    md = tmp_path / "r.md"
    md.write_text("<!--figblock:bench.scaleout.table-->\n<!--/figblock-->\n"
                  "<!--fig:bench.scaleout.embedded_dps_5k-->0<!--/fig--> / "
                  "<!--fig:bench.scaleout.prometheus_mb_per_1k-->0<!--/fig-->\n", encoding="utf-8")
    scan([md], src, write=True)
    assert md.read_text(encoding="utf-8") == (
        "<!--figblock:bench.scaleout.table-->\n"
        "| devices (series) | embedded: SQLite write + alert engine per cycle | embedded devices/s | embedded RSS | "
        "Prometheus: scrape + rule evaluation | Prometheus devices/s | Prometheus RSS |\n"
        "|---|---|---|---|---|---|---|\n"
        "| 1,000 (34,023) | 1.50 s | 667 | 62 MB | 0.11 + 1.28 s | 719 | 173 MB |\n"
        "| 5,000 (170,023) | 8.00 s | 625 | 140 MB | 0.60 + 6.10 s | 746 | 600 MB |\n"
        "\n"
        "Memory per 1,000 more devices: embedded 19.4 MB, Prometheus 106.7 MB. One run on 2 CPUs shared with other "
        "jobs (load average 9.2 at the end), 2026-11-30 (`bench/results/bench_scaleout.json`).\n"
        "<!--/figblock-->\n"
        "<!--fig:bench.scaleout.embedded_dps_5k-->625<!--/fig--> / "
        "<!--fig:bench.scaleout.prometheus_mb_per_1k-->106.7<!--/fig-->\n")
    assert scan([md], src) == []
    assert {n for n in FIGURES if n.startswith("bench.scaleout.")} == {
        "bench.scaleout.embedded_mb_per_1k", "bench.scaleout.prometheus_mb_per_1k",
        "bench.scaleout.embedded_dps_5k", "bench.scaleout.prometheus_dps_5k"}
