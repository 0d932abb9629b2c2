"""Device drivers: the project's own NAPALM driver(s) and the Netmiko adapter."""
