"""dcops.demo — the simulated data centre in one command (`dcops demo`), and incident scenarios.

The demo composes the other packages (as the CLI does; none of them imports this one):
model (validate, capacity) → cloud (offline plan) → lab (namespaces) → monitor (snmpsim agents,
poller, dashboard) → net (render + push with commit-confirm). Scenarios are data
(`scenarios/*.yaml`, see `scenario.py`); their actions (`actions.py`) call the monitor's simulated
agents (SNMP SET), the lab (leased line cut at the far end) and the net pusher.

Everything the demo starts is recorded in the lab state under its lab name (default
"dcops-demo"): `dcops lab down --name dcops-demo` cleans up after a crash.
"""
