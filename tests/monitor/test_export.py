from dcops.monitor.alerts import load_rules
from dcops.monitor.export import prometheus_rules, snmp_exporter_module
from dcops.monitor.profiles import get_profile


def test_prometheus_rules_cover_every_rule_and_override():
    rs = load_rules()
    out = prometheus_rules(rs)["groups"][0]["rules"]
    names = {r["alert"] for r in out}
    assert len(out) == len(rs.rules) + sum(len(r.overrides) for r in rs.rules)
    assert "DcopsLeasedLineUtilisationHigh" in names and "DcopsRoomTemperatureHigh_kg_env_02" in names
    by = {r["alert"]: r for r in out}
    # a regex in a PromQL string literal: re.escape's backslash escaped once more (`\-` alone does not parse)
    other = 'dcops_env_temperature_celsius{device!~"kg\\\\-env\\\\-02"}'
    held = 'and ignoring(alertname, alertstate, severity, source) ALERTS{alertname="DcopsRoomTemperatureHigh"}'
    assert by["DcopsRoomTemperatureHigh"]["expr"] == f"{other} > 27 or ({other} > 26 {held})"
    assert by["DcopsRoomTemperatureHigh_kg_env_02"]["expr"].startswith(
        'dcops_env_temperature_celsius{device="kg-env-02"} > 30 or (dcops_env_temperature_celsius{device="kg-env-02"} > 29')
    assert by["DcopsLeasedLineDown"]["expr"] == \
        'max without (if_oper_status) (dcops_if_oper_status{line=~".+",if_oper_status!~"up"} == 1)'
    assert by["DcopsUpsLoadHigh"]["for"] == "5m"
    for r in out:
        assert r["expr"].count("(") == r["expr"].count(")") and "{{" not in r["expr"]


def test_snmp_exporter_module_fetches_the_profile_oids():
    p = get_profile("ups-rfc1628")
    m = snmp_exporter_module(p, {"community": "public"})
    assert m["version"] == 2 and "1.3.6.1.2.1.33.1.2.3.0" in m["get"]
    assert "1.3.6.1.2.1.33.1.4.4.1.5" in m["walk"]
