"""Tape backup for real: Bacula (director, storage daemon with an autochanger, file daemons) configured from
the inventory's tape library, backup policies and the VMs that use them."""
