"""A corpus of broken inventories, one defect each: the exact file, line and message, and nothing else."""
from __future__ import annotations

import pytest

from .conftest import Workspace

VP = "vms/vp-ubnd.yaml"
WEB01 = "  - name: portal-web-01\n"


def _case(fn):
    """Each case edits the workspace and returns (file, line, message)."""
    CASES.append(pytest.param(fn, id=fn.__name__.removeprefix("case_").replace("_", "-")))
    return fn


CASES: list = []


@_case
def case_yaml_syntax(ws: Workspace):
    line = ws.edit("catalog.yaml", "os: Red Hat Enterprise Linux 9", "os: Red Hat: Enterprise Linux 9")
    return "catalog.yaml", line, "YAML syntax error: mapping values are not allowed here"


@_case
def case_tab_indentation(ws: Workspace):
    line = ws.edit(VP, "    tenant: vp-ubnd\n", "\ttenant: vp-ubnd\n")
    return VP, line, "tab character in indentation (YAML needs spaces)"


@_case
def case_duplicate_key(ws: Workspace):
    line = ws.edit("compute.yaml", "    u: 38\n", "    u: 38\n    u: 37\n") + 1
    return "compute.yaml", line, "duplicate key 'u'"


@_case
def case_wrong_type(ws: Workspace):
    line = ws.edit("compute.yaml", "cpu_cores: 32", "cpu_cores: many")
    return "compute.yaml", line, "cpu_cores: Input should be a valid integer, unable to parse string as an integer"


@_case
def case_missing_required_field(ws: Workspace):
    ws.edit(VP, "    flavor: m1.large\n", "")
    return VP, ws.line_of(VP, "- name: portal-web-01"), "missing required field 'flavor'"


@_case
def case_unknown_key(ws: Workspace):
    line = ws.edit("compute.yaml", "    rack: r01\n", "    colour: blue\n    rack: r01\n")
    return "compute.yaml", line, "unknown key 'colour'"


@_case
def case_unknown_section(ws: Workspace):
    (ws.inventory / "extra.yaml").write_text("# typo: vm for vms\nvm: []\n", encoding="utf-8")
    return "extra.yaml", 2, ("unknown section 'vm' (known: aggregates, budgets, facility, flavors, ha_groups, "
                             "hosts, images, it_projects, leased_lines, network_devices, site, storage, systems, tenants, vms, zones)")


@_case
def case_unknown_tenant(ws: Workspace):
    line = ws.edit(VP, "    tenant: vp-ubnd\n", "    tenant: vp-ubdn\n")
    return VP, line, "unknown tenant 'vp-ubdn'"


@_case
def case_unknown_flavor(ws: Workspace):
    line = ws.edit(VP, "    flavor: m1.large\n", "    flavor: m1.huge\n")
    return VP, line, "unknown flavor 'm1.huge'"


@_case
def case_unknown_ha_group(ws: Workspace):
    line = ws.edit(VP, "    ha_group: portal-web\n", "    ha_group: portal-webs\n")
    return VP, line, "unknown HA group 'portal-webs'"


@_case
def case_unknown_backup_policy(ws: Workspace):
    line = ws.edit(VP, "    backup_policy: snap-daily-7d\n", "    backup_policy: snap-hourly\n")
    return VP, line, "unknown backup policy 'snap-hourly'"


@_case
def case_unknown_san_pool(ws: Workspace):
    line = ws.edit(VP, "{name: www, size_gb: 200, pool: silver}", "{name: www, size_gb: 200, pool: platinum}")
    return VP, line, "unknown SAN pool 'platinum'"


@_case
def case_unknown_snmp_profile(ws: Workspace):
    line = ws.edit("facility.yaml", "profile: ups-rfc1628", "profile: ups-rfc9999")
    return "facility.yaml", line, "unknown SNMP profile 'ups-rfc9999' (no file profiles/ups-rfc9999.yaml)"


@_case
def case_unknown_platform(ws: Workspace):
    line = ws.edit("network.yaml", "platform: panos", "platform: junos")
    return "network.yaml", line, "unknown platform 'junos' (no folder platforms/junos)"


@_case
def case_duplicate_ip(ws: Workspace):
    line = ws.edit(VP, "    ip: 10.20.20.11\n", "    ip: 10.20.20.10\n")
    return VP, line, "duplicate IP 10.20.20.10 (VM portal-app-02; already used by VM portal-app-01)"


@_case
def case_duplicate_hostname(ws: Workspace):
    line = ws.edit(VP, "  - name: portal-web-02\n", "  - name: kg-cmp-01\n")
    return VP, line, "duplicate hostname 'kg-cmp-01' (also in hosts)"


@_case
def case_duplicate_vlan(ws: Workspace):
    line = ws.edit("network.yaml", "    vlan: 11\n", "    vlan: 10\n")
    return "network.yaml", line, "duplicate VLAN 10 (also zone 'mgmt')"


@_case
def case_overlapping_subnets(ws: Workspace):
    text = ws.file("network.yaml").read_text(encoding="utf-8")
    text = text.replace("leased_lines:", "  - name: lab\n    display_name: Phòng thử nghiệm\n    kind: app\n"
                        "    vlan: 140\n    subnet: 10.20.30.128/25\nleased_lines:", 1)
    ws.file("network.yaml").write_text(text, encoding="utf-8")
    return "network.yaml", ws.line_of("network.yaml", "subnet: 10.20.30.128/25"), \
        "subnet 10.20.30.128/25 of zone 'lab' overlaps 10.20.30.0/24 of zone 'db'"


@_case
def case_ip_outside_subnet(ws: Workspace):
    line = ws.edit(VP, "    ip: 10.20.20.10\n", "    ip: 10.20.99.10\n")
    return VP, line, "IP 10.20.99.10 of VM portal-app-01 is outside zone 'app' subnet 10.20.20.0/23"


@_case
def case_invalid_ip(ws: Workspace):
    line = ws.edit("compute.yaml", "mgmt_ip: 10.10.0.11", "mgmt_ip: 10.10.0.311")
    return "compute.yaml", line, "mgmt_ip: Input is not a valid IPv4 address"


@_case
def case_negative_size(ws: Workspace):
    line = ws.edit(VP, "{name: www, size_gb: 200, pool: silver}", "{name: www, size_gb: -200, pool: silver}")
    return VP, line, "volumes.0.size_gb: Input should be greater than 0"


@_case
def case_zero_size(ws: Workspace):
    line = ws.edit("catalog.yaml", "{name: m1.small, vcpus: 2, ram_gb: 4, disk_gb: 40}",
                   "{name: m1.small, vcpus: 2, ram_gb: 4, disk_gb: 0}")
    return "catalog.yaml", line, "disk_gb: Input should be greater than 0"


@_case
def case_vlan_out_of_range(ws: Workspace):
    line = ws.edit("network.yaml", "    vlan: 130\n", "    vlan: 5000\n")
    return "network.yaml", line, "vlan: Input should be less than or equal to 4094"


@_case
def case_security_level_out_of_range(ws: Workspace):
    line = ws.edit("organisation.yaml", "security_level: 1", "security_level: 6")
    return "organisation.yaml", line, "security_level: Input should be less than or equal to 5"


@_case
def case_secret_value_in_git(ws: Workspace):
    line = ws.edit("facility.yaml", "      profile: ups-rfc1628\n",
                   "      profile: ups-rfc1628\n      auth_key_ref: Kiengiang@2024\n") + 1
    return "facility.yaml", line, ("snmp.auth_key_ref: must be a secret reference (env:VAR, vault:path#key or "
                                   "pulumi:key), never the secret itself")


@_case
def case_gateway_outside_subnet(ws: Workspace):
    ws.edit("network.yaml", "    gateway: 10.20.30.1\n", "    gateway: 10.20.31.1\n")
    return "network.yaml", ws.line_of("network.yaml", "  - name: db\n"), \
        "gateway 10.20.31.1 is outside subnet 10.20.30.0/24"


@_case
def case_public_vm_outside_dmz(ws: Workspace):
    line = ws.edit(VP, "    ha_group: portal-app\n", "    ha_group: portal-app\n    public: true\n") + 1
    return VP, line, "VM portal-app-01 is public but sits in zone 'app' (only DMZ VMs get floating IPs)"


@_case
def case_level3_vm_without_backup(ws: Workspace):
    ws.edit(VP, WEB01 + "    tenant: vp-ubnd\n    system: portal\n    zone: dmz\n    flavor: m1.large\n"
            "    image: ubuntu-22.04\n    ip: 10.20.10.10\n    volumes:\n      - {name: www, size_gb: 200, pool: silver}\n"
            "    backup_policy: snap-daily-7d\n",
            WEB01 + "    tenant: vp-ubnd\n    system: portal\n    zone: dmz\n    flavor: m1.large\n"
            "    image: ubuntu-22.04\n    ip: 10.20.10.10\n    volumes:\n      - {name: www, size_gb: 200, pool: silver}\n")
    return VP, ws.line_of(VP, WEB01.strip()), \
        "VM portal-web-01 serves level-3 system 'portal' but has no backup_policy"


@_case
def case_boot_volume_below_image(ws: Workspace):
    line = ws.edit(VP, "    image: ubuntu-22.04\n", "    image: ubuntu-22.04\n    boot_volume_gb: 10\n") + 1
    return VP, line, "boot volume 10 GB is smaller than image 'ubuntu-22.04' minimum 20 GB"


@_case
def case_over_capacity_ram(ws: Workspace):
    ws.edit("catalog.yaml", "{name: db.2xlarge, vcpus: 32, ram_gb: 128, disk_gb: 120}",
            "{name: db.2xlarge, vcpus: 32, ram_gb: 2048, disk_gb: 120}")
    return "site.yaml", ws.line_of("site.yaml", "  capacity:"), \
        "RAM over capacity: demand 18,056 GB > supply 13,440 GB (24 compute hosts with declared overcommit)"


@_case
def case_over_capacity_san(ws: Workspace):
    ws.edit("vms/vp-ubnd.yaml", "{name: media, size_gb: 8000, pool: bronze}", "{name: media, size_gb: 45000, pool: bronze}")
    return "storage.yaml", ws.line_of("storage.yaml", "- {name: bronze"), \
        "SAN pool bronze (nl-sas) over capacity: 148.0 TB allocated > 144.0 TB (thin ratio applied)"


@_case
def case_san_pools_exceed_usable(ws: Workspace):
    line = ws.edit("storage.yaml", "    usable_tb: 330\n", "    usable_tb: 300\n")
    return "storage.yaml", line + 1, "SAN pools add up to 330 TB, more than the 300 TB usable"


@_case
def case_tape_too_small(ws: Workspace):
    line = ws.edit("storage.yaml", "    capacity_tb: 60\n", "    capacity_tb: 40\n")
    return "storage.yaml", line, "tape too small for the retention: 50.9 TB needed > 40.0 TB"


@_case
def case_tape_policy_without_a_bacula_schedule(ws: Workspace):
    line = ws.edit("storage.yaml", "      full_every_days: 14\n", "      full_every_days: 10\n")
    return "storage.yaml", line, ("backup policy tape-daily-30d: a full every 10 days has no Bacula schedule "
                                  "(use 1, 7, 14 or a month: 28–31)")


@_case
def case_tape_retention_shorter_than_the_schedule(ws: Workspace):
    """A month between fulls (1st Sunday to 1st Sunday: up to 35 days) kept 30 days: the last full is recycled
    before the next one exists."""
    line = ws.edit("storage.yaml", "      retention_days: 60\n", "      retention_days: 30\n")
    return "storage.yaml", line, ("backup policy tape-monthly-60d: retention 30 days is shorter than the 35 days "
                                  "its schedule can leave between two fulls (full every 30 days): Bacula would "
                                  "recycle the last full before the next one is written")


@_case
def case_backup_target_bacula_has_no_pool_for(ws: Workspace):
    line = ws.edit("storage.yaml", "      target: tape\n", "      target: tape-dr\n")
    return "storage.yaml", line, "backup_policies.0.target: Input should be 'tape' or 'san-snapshot'"


@_case
def case_tape_slots_that_do_not_fill_the_magazines(ws: Workspace):
    line = ws.edit("storage.yaml", "    magazines: 2\n", "    magazines: 3\n")
    return "storage.yaml", line, "tape library tape-01: 10 slots do not fill 3 magazines of equal size"


@_case
def case_not_utf8(ws: Workspace):
    path = ws.file("organisation.yaml")
    text = path.read_text(encoding="utf-8")
    line = text[: text.index("Sở Tài chính")].count("\n") + 1
    path.write_bytes(text.replace("Sở Tài chính", "S\xe9 Tai chinh").encode("latin-1", errors="replace"))
    # the first non-ASCII character of the rewritten file decides the line
    raw = path.read_bytes()
    first = next(i for i, b in enumerate(raw) if b > 0x7F)
    return "organisation.yaml", raw[:first].count(b"\n") + 1, f"file is not UTF-8 (byte 0x{raw[first]:02x})"


@_case
def case_empty_file(ws: Workspace):
    (ws.inventory / "empty.yaml").write_text("# nothing here yet\n", encoding="utf-8")
    return "empty.yaml", 1, "file is empty"


@_case
def case_section_wrong_shape(ws: Workspace):
    (ws.inventory / "more.yaml").write_text("images:\n  name: debian-12\n", encoding="utf-8")
    return "more.yaml", 1, "section 'images' must be a list"


@pytest.mark.parametrize("case", CASES)
def test_broken_inventory(ws: Workspace, case) -> None:
    file, line, message = case(ws)
    result = ws.validate()
    got = [(p.loc.file, p.loc.line, p.message) for p in result.errors]
    assert got == [(str(ws.inventory / file), line, message)]
    assert result.inventory is None and not result.ok


def test_corpus_starts_from_a_clean_workspace_and_is_big_enough(ws: Workspace) -> None:
    """Each case is its one defect only if the untouched workspace validates clean (no error, no warning)."""
    result = ws.validate()
    assert (result.errors, result.warnings, result.ok) == ([], [], True)
    assert len(CASES) >= 25 and len({c.id for c in CASES}) == len(CASES)


def test_missing_section(ws: Workspace) -> None:
    ws.file("storage.yaml").unlink()
    result = ws.validate()
    assert [(p.loc.file, p.loc.line, p.message) for p in result.errors] == [
        (str(ws.inventory), 0, "missing required section 'storage'")]


def test_all_errors_in_one_run(ws: Workspace) -> None:
    a = ws.edit(VP, "    flavor: m1.large\n", "    flavor: m1.huge\n")
    b = ws.edit("compute.yaml", "cpu_cores: 32", "cpu_cores: many")
    c = ws.edit("network.yaml", "    vlan: 130\n", "    vlan: 5000\n")
    d = ws.edit("catalog.yaml", "os: Red Hat Enterprise Linux 9", "os: Red Hat: Enterprise Linux 9")
    got = {(p.loc.file.rsplit("/", 1)[-1], p.loc.line) for p in ws.validate().errors}
    assert got == {("vp-ubnd.yaml", a), ("compute.yaml", b), ("network.yaml", c), ("catalog.yaml", d)}


def test_schema_failure_does_not_cascade(ws: Workspace) -> None:
    """A tenant that fails its own schema is not reported again by every VM that names it."""
    ws.edit("organisation.yaml", "display_name: Văn phòng UBND tỉnh", "display_name: ''")
    errors = ws.validate().errors
    assert len(errors) == 1 and "display_name" in errors[0].message
