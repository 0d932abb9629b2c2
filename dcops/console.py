"""Rich consoles that are fit for pipes.

On a terminal, Rich fits tables to the window. Into a pipe or a file, Rich falls back to 80 columns (or to
the width of whatever terminal stdin happens to be), so `dcops capacity | grep` would see names cut in the
middle ("portal-we…"). Off a terminal these consoles are as wide as the content needs, so every line is
whole; COLUMNS or an explicit width still wins.
"""
from __future__ import annotations

import os

from rich.console import Console as _RichConsole
from rich.console import ConsoleDimensions

#: Wide enough for any row dcops prints; Rich sizes tables to their content, so nothing is padded to it.
PIPE_WIDTH = 4096


class Console(_RichConsole):
    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self._width is None and not self.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
            return ConsoleDimensions(PIPE_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size
