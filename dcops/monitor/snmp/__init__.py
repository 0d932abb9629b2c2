"""The SNMP stack: the project's own BER codec (`ber`), v2c and SNMPv3 USM sessions on one shared
UDP socket (`v2c`, `usm`), pysnmp for what the fast path does not cover (`pysnmp_v3`).
`session.open_session` picks one; everything returns plain Python values."""
