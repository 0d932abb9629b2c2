"""Paths and routes derived from the inventory."""
from dcops.model import load_inventory
from dcops.net.topology import Hop, Topology


def test_paths_and_routes():
    inv = load_inventory()
    t = Topology(inv)
    assert t.path("mgmt", "dmz") == [Hop("fw-core", "mgmt", "app"), Hop("fw-perimeter", "app", "dmz")]
    assert t.path("public", "dmz")[0].group == "kg-lb-01"
    assert t.path("dmz", "dmz") == []
    routes = {r.prefix: r for r in t.routes(inv.device("kg-fw-03"))}
    assert routes["0.0.0.0/0"].nexthops == ("10.20.20.2",)  # towards the perimeter pair's primary
    lb = {r.prefix: r.nexthops for r in t.routes(inv.device("kg-lb-01"))}
    assert lb["10.20.30.0/24"] == ("10.20.0.1",) and "0.0.0.0/0" not in lb  # lbcheck owns the default
