"""dcops.net — network configuration pipeline: render → lint → diff → push (commit-confirm) → backup/rollback."""
