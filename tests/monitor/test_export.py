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
    assert by["DcopsRoomTemperatureHigh"]["expr"] == 'dcops_env_temperature_celsius{device!~"kg\\-env\\-02"} > 27'
    assert by["DcopsRoomTemperatureHigh_kg_env_02"]["expr"] == 'dcops_env_temperature_celsius{device="kg-env-02"} > 30'
    assert by["DcopsLeasedLineDown"]["expr"] == 'dcops_if_oper_status{line=~".+",if_oper_status!~"up"} == 1'
    assert by["DcopsUpsLoadHigh"]["for"] == "5m"
    for r in out:
        assert r["expr"].count("(") == r["expr"].count(")") and "{{" not in r["expr"]


def test_snmp_exporter_module_fetches_the_profile_oids():
    p = get_profile("ups-rfc1628")
    m = snmp_exporter_module(p, {"community": "public"})
    assert m["version"] == 2 and "1.3.6.1.2.1.33.1.2.3.0" in m["get"]
    assert "1.3.6.1.2.1.33.1.4.4.1.5" in m["walk"]
