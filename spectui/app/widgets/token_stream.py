"""The live token stream: the prompt, then every token styled by where it came from."""

from __future__ import annotations

from collections.abc import Hashable

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from spectui.app.decode_view import DecodeView
from spectui.app.format import (
    PIECE_STYLES,
    ROUND_MARK_STYLE,
    ROUND_STYLE,
    SELECTED_STYLE,
    TEXT_MARKS,
    flowing,
)
from spectui.app.rounds import Piece
from spectui.app.widgets.panel import Panel

_SELECTED_META = {"selected": True}


class TokenStream(VerticalScroll, can_focus=False):
    """The prompt and the generated text; follows the end unless the reader is elsewhere."""

    DEFAULT_CSS = """
    TokenStream > Panel { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Panel(id="stream-text")

    def show_message(self, message: RenderableType, shape: Hashable) -> None:
        """Show a status (the loading state) instead of the stream; `shape`: its layout's."""
        panel = self.query_one(Panel)
        panel.forget()
        panel.show_content(message, shape)

    def unchanged(self, inputs: Hashable) -> bool:
        """Whether the stream already shows these inputs (see Panel.unchanged)."""
        return self.query_one(Panel).unchanged(inputs)

    def forget(self) -> None:
        """Redraw next time."""
        self.query_one(Panel).forget()

    def show(
        self,
        view: DecodeView,
        pieces: list[Piece],
        selected: int | None,
        marked_round: int | None = None,
        marks: bool = False,
    ) -> None:
        """Render the decode, highlighting piece number `selected` (None: follow the end).

        The tokens of round `marked_round` (one stepped back to) sit between ⟦ and ⟧; with
        `marks`, each token's kind is also written around it (`format.TEXT_MARKS`).
        """
        text = Text(view.prompt, style="")
        marking = False
        for index, piece in enumerate(pieces):
            style = Style.parse(PIECE_STYLES[piece.kind])
            in_round = piece.round_index == marked_round
            if in_round != marking:
                text.append("⟦" if in_round else "⟧", style=ROUND_MARK_STYLE)
                marking = in_round
            if in_round:
                style += Style.parse(ROUND_STYLE)
                if selected is None:
                    style += Style(meta=_SELECTED_META)
            if index == selected:
                style += Style.parse(SELECTED_STYLE) + Style(meta=_SELECTED_META)
            opening, closing = TEXT_MARKS.get(piece.kind, ("", "")) if marks else ("", "")
            text.append(opening + flowing(piece.text) + closing, style=style)
        if marking:
            text.append("⟧", style=ROUND_MARK_STYLE)
        if not pieces and view.round is None:
            text.append(" ▏", style="dim")
        width = max(1, self.scrollable_content_region.width)
        n_lines = len(text.wrap(self.app.console, width))  # a new line costs a layout pass
        following = self.scroll_y >= self.max_scroll_y  # not if the reader scrolled back
        self.query_one(Panel).show_content(text, (width, n_lines))
        if selected is None and marked_round is None and following:
            self.call_after_refresh(self.scroll_end, animate=False)
        else:
            self.call_after_refresh(self._scroll_to_selected, text)

    def _scroll_to_selected(self, text: Text) -> None:
        """Scroll so the line holding the selected token is visible."""
        width = max(1, self.scrollable_content_region.width)
        lines = self.app.console.render_lines(
            text, self.app.console.options.update_width(width), pad=False
        )
        for number, line in enumerate(lines):
            if any(segment.style and segment.style.meta.get("selected") for segment in line):
                self.scroll_to(
                    y=max(0, number - self.scrollable_content_region.height // 2), animate=False
                )
                return
