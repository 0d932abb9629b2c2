"""Writes the site's simulated-agent recordings (snmprec) next to this script.

The values are data (values.yaml beside this script); this script only lays them out in each MIB's
structure. Run `python monitors/sim/generate.py` after editing; the .snmprec files are committed so a
review shows exactly what the simulated UPS, cooling, sensors and link balancer answer.
Conventions (snmpsim): `numeric` makes counters move at `rate` per second, `writecache`
makes a value settable by SNMP SET (fault injection: UPS on battery, leak, line down).
"""
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SYS = "1.3.6.1.2.1.1"
VALUES = yaml.safe_load((HERE / "values.yaml").read_text(encoding="utf-8"))


def _system(name: str, **over) -> list[str]:
    s = {**VALUES[name]["system"], **over}
    return system(str(s["descr"]), str(s["object_id"]), str(s["name"]), str(s["location"]))


def system(descr: str, object_id: str, name: str, location: str) -> list[str]:
    return [
        f"{SYS}.1.0|4|{descr}",
        f"{SYS}.2.0|6|{object_id}",
        f"{SYS}.3.0|67:numeric|rate=100,initial=1234500",  # sysUpTime in centiseconds
        f"{SYS}.4.0|4|noc@kiengiang.gov.vn",
        f"{SYS}.5.0|4|{name}",
        f"{SYS}.6.0|4|{location}",
    ]


def wc(tag: int, value) -> str:
    return f"{tag}:writecache|value={value}"


def ups_rfc1628() -> list[str]:
    u = "1.3.6.1.2.1.33.1"
    v = VALUES["ups-rfc1628"]
    ident, bat = v["ident"], v["battery"]
    rows = _system("ups-rfc1628")
    rows += [
        f"{u}.1.1.0|4|{ident['manufacturer']}", f"{u}.1.2.0|4|{ident['model']}", f"{u}.1.3.0|4|{ident['software']}",
        f"{u}.2.1.0|{wc(2, bat['status'])}",  # upsBatteryStatus (2 normal)
        f"{u}.2.2.0|{wc(2, bat['seconds_on_battery'])}",  # upsSecondsOnBattery
        f"{u}.2.3.0|{wc(2, bat['minutes_remaining'])}",  # upsEstimatedMinutesRemaining
        f"{u}.2.4.0|{wc(2, bat['charge_percent'])}",  # upsEstimatedChargeRemaining
        f"{u}.2.5.0|2:numeric|function=sin,rate=0.01,scale=4,offset={v['battery_voltage_decivolts']}",
        f"{u}.2.7.0|{wc(2, bat['temperature_c'])}",
        f"{u}.3.1.0|65|3", f"{u}.3.2.0|2|3",
    ]
    for ph in (1, 2, 3):
        rows += [f"{u}.3.3.1.1.{ph}|2|{ph}",
                 f"{u}.3.3.1.2.{ph}|2:numeric|function=sin,rate=0.05,scale=2,offset=500",
                 f"{u}.3.3.1.3.{ph}|2:numeric|function=sin,rate=0.02,scale=3,offset={229 + ph}"]
    rows += [f"{u}.4.1.0|{wc(2, 3)}", f"{u}.4.2.0|2|500", f"{u}.4.3.0|2|3"]  # upsOutputSource normal
    loads = {int(k): int(x) for k, x in v["output_load_percent"].items()}
    for ph in (1, 2, 3):
        rows += [f"{u}.4.4.1.1.{ph}|2|{ph}", f"{u}.4.4.1.2.{ph}|2|230",
                 f"{u}.4.4.1.3.{ph}|2|{loads[ph] * 1160 // 100}",
                 f"{u}.4.4.1.4.{ph}|2|{loads[ph] * 26667 // 100}",
                 f"{u}.4.4.1.5.{ph}|{wc(2, loads[ph])}"]
    rows += [f"{u}.6.1.0|{wc(66, 0)}"]
    return rows


def apc_ups() -> list[str]:
    a = "1.3.6.1.4.1.318.1.1.1"
    ident = VALUES["apc-ups"]["ident"]
    rows = _system("apc-ups")
    rows += [
        f"{a}.1.1.1.0|4|{ident['model']}", f"{a}.1.2.1.0|4|{ident['firmware']}",
        f"{a}.2.1.1.0|{wc(2, 2)}", f"{a}.2.1.2.0|{wc(67, 0)}",
        f"{a}.2.2.1.0|{wc(66, 100)}", f"{a}.2.2.2.0|66|27", f"{a}.2.2.3.0|{wc(67, 186000)}",
        f"{a}.2.2.4.0|2|1",
        f"{a}.3.2.1.0|66|229", f"{a}.3.2.4.0|66|50",
        f"{a}.4.1.1.0|{wc(2, 2)}", f"{a}.4.2.1.0|66|230", f"{a}.4.2.2.0|66|50",
        f"{a}.4.2.3.0|{wc(66, 35)}", f"{a}.4.2.4.0|66|15",
    ]
    return rows


def liebert() -> list[str]:
    e = "1.3.6.1.4.1.476.1.42.3.4"
    v = VALUES["liebert-cooling"]
    rows = _system("liebert-cooling")
    ids = {1: f"{e}.1.1.2", 2: f"{e}.1.1.3"}  # lgpEnvReturnAirTemperature, lgpEnvSupplyAirTemperature
    temps = {int(k): tuple(x) for k, x in v["temperatures_c"].items()}
    hum, hum_hi, hum_lo = v["humidity_percent"]
    for i in (1, 2):
        rows += [f"{e}.1.3.3.1.1.{i}|66|{i}", f"{e}.1.3.3.1.2.{i}|6|{ids[i]}",
                 f"{e}.1.3.3.1.3.{i}|{wc(2, temps[i][0])}",
                 f"{e}.1.3.3.1.4.{i}|2|{temps[i][1]}", f"{e}.1.3.3.1.5.{i}|2|{temps[i][2]}"]
    rows += [f"{e}.2.2.3.1.1.1|66|1", f"{e}.2.2.3.1.2.1|6|{e}.2.1.2",
             f"{e}.2.2.3.1.3.1|{wc(2, hum)}", f"{e}.2.2.3.1.4.1|2|{hum_hi}", f"{e}.2.2.3.1.5.1|2|{hum_lo}"]
    rows += [f"{e}.3.1.0|2|1", f"{e}.3.2.0|{wc(2, 1)}", f"{e}.3.7.0|{wc(2, 1)}", f"{e}.3.8.0|{wc(2, 2)}"]
    rows += ["1.3.6.1.4.1.476.1.42.3.2.2.0|" + wc(66, 0)]
    return rows


def apc_inrow() -> list[str]:
    c = "1.3.6.1.4.1.318.1.1.27.1.4"
    rows = _system("apc-inrow")
    rows.append("1.3.6.1.4.1.318.1.1.27.1.1.0|2|1")
    analog = [tuple(x) for x in VALUES["apc-inrow"]["analog"]]
    for i, (d, v, unit, sc) in enumerate(analog, 1):
        rows += [f"{c}.1.2.1.1.1.{i}|2|{i}", f"{c}.1.2.1.2.1.{i}|4|{d}",
                 f"{c}.1.2.1.3.1.{i}|{wc(2, v) if d.endswith('Temperature') and 'Rack' not in d else '2|' + str(v)}",
                 f"{c}.1.2.1.4.1.{i}|4|{unit}", f"{c}.1.2.1.5.1.{i}|2|{sc}"]
    discrete = [tuple(x) for x in VALUES["apc-inrow"]["discrete"]]
    for i, (d, text, v) in enumerate(discrete, 1):
        rows += [f"{c}.2.2.1.1.1.{i}|2|{i}", f"{c}.2.2.1.2.1.{i}|4|{d}", f"{c}.2.2.1.3.1.{i}|4|{text}",
                 f"{c}.2.2.1.4.1.{i}|{wc(2, v) if d.startswith('Alarm') else '2|' + str(v)}"]
    return rows


def netbotz() -> list[str]:
    n = "1.3.6.1.4.1.318.1.1.10"
    rows = _system("apc-netbotz")
    probes = [tuple(x) for x in VALUES["apc-netbotz"]["probes"]]
    for i, (name, t, h) in enumerate(probes, 1):
        rows += [f"{n}.5.1.1.1.1.{i}|2|{i}", f"{n}.5.1.1.1.3.{i}|4|{name}",
                 f"{n}.5.1.1.1.5.{i}|{wc(2, t)}", f"{n}.5.1.1.1.6.{i}|2|320",
                 f"{n}.5.1.1.1.7.{i}|2|160", f"{n}.5.1.1.1.8.{i}|{wc(2, h)}"]
    # (name, electrical state at rest: 1 closed / 2 open), see values.yaml
    contacts = [tuple(x) for x in VALUES["apc-netbotz"]["contacts"]]
    for i, (name, rest) in enumerate(contacts, 1):
        rows += [f"{n}.4.3.2.1.2.0.{i}|2|{i}", f"{n}.4.3.2.1.3.0.{i}|4|{name}",
                 f"{n}.4.3.2.1.5.0.{i}|{wc(2, rest)}", f"{n}.4.3.2.1.7.0.{i}|{wc(2, 1)}"]
    return rows


def _netbotz_v2_layout(base: str, descr: str, object_id: str, leak: bool, v5: bool = False) -> list[str]:
    """NETBOTZV2-MIB (450) and NetBotz50-MIB (750/755) share their table layout under different roots.
    `v5`: the rows as a NetBotz 750 (firmware 5) walk shows them — A-Link pod ids, enclosure and port
    columns, ...ValueInt and ...Index, and the ...Value column in whole units (not the MIB's tenths)."""
    rows = system(descr, object_id, "netbotz", "Phòng máy chủ")
    pods = [(1001, "Nóng-Rack-B1", "27.4", "48.0"), (1002, "Lạnh-Rack-B1", "20.9", "51.0")]
    for n, (idx, label, t, h) in enumerate(pods, 1):
        enc = f"ALINK_VIRTUAL_pod-0{n}_00C0B7A1B2C{n}_1-th"
        tid = f"TEMPERATURE_ALINK_VIRTUAL_pod-0{n}_sensor-01_00C0B7A1B2C{n}_1-th" if v5 else f"TEMP_{idx}"
        hid = f"RELATIVE_HUMIDITY_ALINK_VIRTUAL_pod-0{n}_sensor-02_00C0B7A1B2C{n}_1-th" if v5 else f"HUMI_{idx}"
        tv, hv = (round(float(t)), round(float(h))) if v5 else (int(float(t) * 10), int(float(h) * 10))
        rows += [f"{base}.4.1.1.1.1.{idx}|4|{tid}", f"{base}.4.1.1.1.2.{idx}|2|{tv}",
                 f"{base}.4.1.1.1.3.{idx}|{wc(2, 0)}", f"{base}.4.1.1.1.4.{idx}|4|{label}",
                 f"{base}.4.1.1.1.7.{idx}|{wc(4, t)}",
                 f"{base}.4.1.2.1.1.{idx}|4|{hid}", f"{base}.4.1.2.1.2.{idx}|2|{hv}",
                 f"{base}.4.1.2.1.4.{idx}|4|{label}", f"{base}.4.1.2.1.7.{idx}|{wc(4, h)}"]
        if v5:
            for tbl, v in (("1", t), ("2", h)):
                rows += [f"{base}.4.1.{tbl}.1.5.{idx}|4|{enc}", f"{base}.4.1.{tbl}.1.6.{idx}|4|UNIVERSAL {n}",
                         f"{base}.4.1.{tbl}.1.8.{idx}|2|{round(float(v))}", f"{base}.4.1.{tbl}.1.9.{idx}|65|{idx}"]
            rows.append(f"{base}.4.1.2.1.3.{idx}|2|0")
    rows += [f"{base}.4.2.2.1.1.2001|4|DOOR_2001", f"{base}.4.2.2.1.2.2001|{wc(2, 1)}",
             f"{base}.4.2.2.1.4.2001|4|Cửa tủ B1"]
    for idx, label, rest in [(3001, "Tủ báo cháy: đã xả khí", 0), (3002, "Chống sét lan truyền: SPD hỏng", 1)]:
        rows += [f"{base}.4.2.1.1.1.{idx}|4|DRYCONTACT_{idx}", f"{base}.4.2.1.1.2.{idx}|{wc(2, rest)}",
                 f"{base}.4.2.1.1.4.{idx}|4|{label}"]
    if leak:
        rows += [f"{base}.4.2.13.1.1.4001|4|LEAK_4001", f"{base}.4.2.13.1.2.4001|{wc(2, 0)}",
                 f"{base}.4.2.13.1.4.4001|4|Dây cảm biến rò nước sàn nâng"]
    return rows


def netbotz_750() -> list[str]:
    return _netbotz_v2_layout("1.3.6.1.4.1.52674.500", "Schneider Electric NetBotz 750 (NBRK0750) v5.3.2",
                              "1.3.6.1.4.1.52674.500.1", leak=True, v5=True)


def netbotz_450() -> list[str]:
    return _netbotz_v2_layout("1.3.6.1.4.1.5528.100", "NetBotz RackBot 450 v4.7.0", "1.3.6.1.4.1.5528.100.20.10.2013",
                              leak=False)


def akcp() -> list[str]:
    b = "1.3.6.1.4.1.3854.1.2.2.1"
    v = VALUES["akcp-sensorprobe"]
    rows = _system("akcp-sensorprobe")
    rows += [f"{b}.16.1.1.1|4|{v['place']}", f"{b}.16.1.3.1|{wc(2, v['temperature_c'])}",
             f"{b}.17.1.1.1|4|{v['place']}", f"{b}.17.1.3.1|{wc(2, v['humidity_percent'])}"]
    for i, (label, status) in enumerate(v["switches"], 1):
        rows += [f"{b}.18.1.1.{i}|4|{label}", f"{b}.18.1.3.{i}|{wc(2, status)}"]
    return rows


def if_mib() -> list[str]:
    rows = _system("if-mib")
    # ifIndex: name, alias, Mbit/s, bytes/s in, out (values.yaml)
    ifs = {int(k): tuple(x) for k, x in VALUES["if-mib"]["interfaces"].items()}
    t, x = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"
    rows.append(f"1.3.6.1.2.1.2.1.0|2|{len(ifs)}")
    for i, (name, alias, mbps, rin, rout) in ifs.items():
        rows += [f"{t}.1.{i}|2|{i}", f"{t}.2.{i}|4|{name}", f"{t}.3.{i}|2|6",
                 f"{t}.5.{i}|66|{min(mbps * 1_000_000, 4294967295)}",
                 f"{t}.7.{i}|2|1", f"{t}.8.{i}|{wc(2, 1)}",
                 f"{t}.10.{i}|65:numeric|rate={rin},wrap=1,initial=4000000000",  # wraps within a minute
                 f"{t}.13.{i}|65|0", f"{t}.14.{i}|65:numeric|rate=0.01", f"{t}.16.{i}|65:numeric|rate={rout},wrap=1",
                 f"{t}.19.{i}|65|0", f"{t}.20.{i}|65|0",
                 f"{x}.1.{i}|4|{name}",
                 f"{x}.6.{i}|70:numeric|rate={rin},initial=81234567890",
                 f"{x}.10.{i}|70:numeric|rate={rout},initial=41234567890",
                 f"{x}.15.{i}|66|{mbps}", f"{x}.18.{i}|4|{alias}"]
    return rows


RECORDINGS = {"ups-rfc1628": ups_rfc1628, "apc-ups": apc_ups, "liebert-cooling": liebert,
              "apc-inrow": apc_inrow, "apc-netbotz": netbotz, "if-mib": if_mib,
              "netbotz-750": netbotz_750, "netbotz-450": netbotz_450, "akcp-sensorprobe": akcp}


def _key(line: str) -> tuple[int, ...]:
    return tuple(int(p) for p in line.split("|", 1)[0].split("."))


def render() -> dict[str, str]:
    return {f"{name}.snmprec": "\n".join(sorted(fn(), key=_key)) + "\n" for name, fn in RECORDINGS.items()}


def main() -> None:
    for fname, text in render().items():
        (HERE / fname).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
