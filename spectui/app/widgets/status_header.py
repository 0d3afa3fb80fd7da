"""The top line: the app's name, the active policy, the round and what the engine is doing.

Textual's Header shows the screen's `sub_title`, and changing that reactive repaints the whole
screen; this one-line widget repaints only itself, which matters at autoplay speed.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusHeader(Static):
    """`spectui — <status>`, centred, one line."""

    DEFAULT_CSS = """
    StatusHeader {
        dock: top;
        width: 100%;
        height: 1;
        background: $panel;
        color: $foreground;
        content-align: center middle;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def show(self, status: str, models: str = "") -> None:
        """Show `status` after the app's name, then `models` (names and sizes), dim.

        The models come last: a narrow terminal cuts them first, never the status.
        """
        parts: list[tuple[str, str] | str] = [("spectui", "bold"), (" — ", "dim"), status]
        if models:
            parts.append((f" · {models}", "dim"))
        self.update(Text.assemble(*parts), layout=False)
