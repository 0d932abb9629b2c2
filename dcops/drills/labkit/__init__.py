"""Small stand-ins the drill labs need that dcops.lab does not provide (see docs/drills.md)."""
