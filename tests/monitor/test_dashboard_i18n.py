"""Every metric and state the profiles can report has Vietnamese and English text; numbers in each
language's format."""
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from dcops.monitor.i18n import fmt_duration, fmt_num, fmt_pct, fmt_value, label, labels
from dcops.monitor.web.strings import T, tr

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted((ROOT / "monitors" / "profiles").glob("*.yaml"))


def _profile_words():
    metrics, states = set(), set()
    for f in PROFILES:
        data = YAML(typ="safe").load(f.read_text(encoding="utf-8"))
        for m in data.get("metrics") or []:
            metrics.add(m["name"])
            if m.get("type") == "counter":  # stored and drawn as a per-second rate
                base = m["name"][:-len("_total")] if m["name"].endswith("_total") else m["name"]
                metrics.add(base + "_per_second")
            states |= {str(v) for v in (m.get("states") or {}).values()}
    return metrics, states


METRICS, STATES = _profile_words()
DERIVED = {"if_in_utilisation_ratio", "if_out_utilisation_ratio", "device_up"}


def test_profiles_were_found():
    assert len(PROFILES) >= 7 and len(METRICS) >= 39 and {"battery", "normal", "up", "down"} <= STATES


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_no_metric_or_state_falls_back_to_its_raw_name(lang):
    missing = sorted(w for w in METRICS | DERIVED | STATES if label(w, lang) is None)
    assert not missing, f"monitors/labels.yaml has no {lang} text for: {missing}"
    for w in METRICS | DERIVED:
        assert tr(w, lang) != w


def test_vietnamese_text_differs_from_english_for_metrics():
    same = sorted(m for m in METRICS | DERIVED if labels()[m][0] == labels()[m][1])
    assert not same, same


def test_ui_strings_have_both_languages():
    assert all(vi and en for vi, en in T.values())


def test_number_formats():
    assert fmt_num(19000, 0, "vi") == "19.000" and fmt_num(19000, 0, "en") == "19,000"
    assert fmt_pct(0.055, "vi") == "5,5 %" and fmt_pct(0.055, "en") == "5.5 %"
    assert fmt_pct(0.4, "vi") == "40 %"
    assert fmt_value(27.25, "celsius", None, "vi") == "27,2 °C" or fmt_value(27.25, "celsius", None, "vi") == "27,3 °C"
    assert fmt_value(1234.5, "watts", None, "vi") == "1.234 W" or fmt_value(1234.5, "watts", None, "vi") == "1.235 W"
    assert fmt_value(19_000_000, "bytes_per_second", None, "vi") == "152,0 Mbit/s"
    assert fmt_value(None, "battery", "battery", "vi") == "Ắc quy"
    assert fmt_value(1800, "seconds", None, "vi") == "30 phút"
    assert fmt_duration(86400, "vi") == "24 giờ" and fmt_duration(30 * 86400, "vi") == "30 ngày"
    assert fmt_duration(86400, "en") == "24 hours" and fmt_duration(3600, "en") == "1 hour"
