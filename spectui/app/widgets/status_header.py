"""The top line: the app's name, the active policy, the round and what the engine is doing.

Textual's Header shows the screen's `sub_title`, and changing that reactive repaints the whole
screen; this one-line widget repaints only itself, which matters at autoplay speed.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Static

from spectui.app.model_info import shorter_forms


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

    status = ""
    models = ""

    def show(self, status: str, models: str = "") -> None:
        """Show `status` after the app's name, then `models` (names and sizes), dim, in the
        longest of its forms that fits (shorter names, then the sizes alone).

        The models come last: a terminal too narrow for their shortest form cuts them first,
        never the status.
        """
        self.status, self.models = status, models
        self.update(self._line(self.size.width), layout=False)

    def _line(self, width: int) -> Text:
        head: list[tuple[str, str] | str] = [("spectui", "bold"), (" — ", "dim"), self.status]
        forms = shorter_forms(self.models) if self.models else []
        lines = [Text.assemble(*head, (f" · {form}", "dim")) for form in forms]
        fitting = next((line for line in lines if line.cell_len <= width), None)
        return fitting or self._status_only(width)

    def _status_only(self, width: int) -> Text:
        """The status without the models, then without the app's name; where even it is too
        wide, its last parts dropped whole: a part is never cut mid-word."""
        named = Text.assemble(("spectui", "bold"), (" — ", "dim"), self.status)
        if named.cell_len <= width or width <= 0:
            return named
        parts = self.status.split(" · ")
        while len(parts) > 1 and len(" · ".join(parts)) > width:
            parts.pop()
        return Text(" · ".join(parts))

    def on_resize(self, event: events.Resize) -> None:
        self.update(self._line(event.size.width), layout=False)
