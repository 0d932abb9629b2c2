"""Figures in the README and docs that are computed, never typed: `dcops docs refresh` / `dcops docs check`."""
