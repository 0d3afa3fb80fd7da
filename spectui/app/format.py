"""Small text helpers shared by the widgets: token display, styles, numbers, bars, sparklines.

Every style pairs a colour with an attribute (underline, bold, strike, italic) so the meaning
survives a monochrome or `NO_COLOR` terminal; the help screen's legend spells them out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from spectui.app.rounds import PieceKind
from spectui.engine.policy.registry import policy_label

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig

PASS, FAIL = "✓", "✗"
SPARKS = " ▁▂▃▄▅▆▇█"

# Colours chosen for contrast ≥ 4.5:1 on the app's dark background (and on ROUND_STYLE's),
# in truecolor, in 256 colours, in 16 (each maps to its own bright ANSI colour: red is a
# rejection only) and in NO_COLOR's greys; each kind also has its own set of attributes
# (tests/app/test_verdicts_visible.py computes both from the rendered styles).
GREEN, YELLOW, CYAN, RED, GREY = "#5fd75f", "#ffd75f", "#5fd7ff", "#ff7a7a", "#aaaaaa"
PIECE_STYLES: dict[PieceKind, str] = {
    PieceKind.DRAFT: f"underline {GREEN}",
    PieceKind.CORRECTION: f"bold {YELLOW}",
    PieceKind.BONUS: f"bold underline {CYAN}",
    PieceKind.PENDING: f"italic {GREY}",
    PieceKind.REJECTED: f"bold strike {RED}",
    PieceKind.UNCHECKED: f"italic strike {GREY}",
}
PIECE_NAMES: dict[PieceKind, str] = {
    PieceKind.DRAFT: "accepted draft",
    PieceKind.CORRECTION: "correction",
    PieceKind.BONUS: "bonus",
    PieceKind.PENDING: "pending draft",
    PieceKind.REJECTED: "rejected draft",
    PieceKind.UNCHECKED: "discarded draft",
}
# The stream's text marks (m, --text-marks): each kind written into the text itself, for a
# terminal without strike-through and for text copied off the screen. Accepted drafts and the
# prompt are plain; a rejected draft is [-x-], its correction {x}, a bonus token {+x}, a draft
# discarded after a rejection [~x~], one not judged yet [?x?].
TEXT_MARKS: dict[PieceKind, tuple[str, str]] = {
    PieceKind.CORRECTION: ("{", "}"),
    PieceKind.BONUS: ("{+", "}"),
    PieceKind.PENDING: ("[?", "?]"),
    PieceKind.REJECTED: ("[-", "-]"),
    PieceKind.UNCHECKED: ("[~", "~]"),
}
SELECTED_STYLE = "reverse"
ROUND_STYLE = "on #262626"  # the round stepped back to (b/n); ⟦ ⟧ mark it without colour
ROUND_MARK_STYLE = "bold"


def _printable(char: str) -> str:
    """A control character as its Unicode control picture (never sent raw to a terminal)."""
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    return "␡" if code == 0x7F else "·"


def flowing(text: str) -> str:
    """A token as it reads in running text: newlines and tabs marked, other controls shown."""
    if not text:
        return "∅"  # a token that decodes to nothing must still be there to see and select
    text = text.replace("\n", "⏎\n").replace("\t", "⇥")
    return "".join(c if c == "\n" else _printable(c) for c in text)


def quoted(text: str, width: int | None = None) -> str:
    """A token on its own (table cells): every space and control character made visible."""
    shown = text.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥")
    shown = "".join(_printable(c) for c in shown) or "∅"
    if width is not None and len(shown) > width:
        shown = shown[: width - 1] + "…"
    return shown


def mark(passed: bool) -> Text:
    """✓ or ✗, green or red."""
    return Text(PASS, style=GREEN) if passed else Text(FAIL, style=f"bold {RED}")


def prob(value: float) -> str:
    """A probability in four characters."""
    return f"{value:.2f}" if value >= 0.005 or value == 0 else "<.01"


def sparkline(values: tuple[float, ...] | list[float], top: float | None = None) -> str:
    """One block character per value, scaled to `top` (default: the largest value)."""
    scale = top if top is not None else max(values, default=0.0)
    if not values:
        return ""
    if scale <= 0:
        return SPARKS[0] * len(values)
    steps = len(SPARKS) - 1
    return "".join(SPARKS[max(1 if v > 0 else 0, round(v / scale * steps))] for v in values)


def bar(value: float, width: int) -> str:
    """A horizontal bar of `value` (0..1) in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, value)) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else "")).ljust(width)


def shown_value(value: object) -> str:
    """A setting's value as messages show it: on/off, a policy's label, 0.05."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return policy_label(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def drafting_words(config: DecodeConfig) -> str:
    """How each round drafts, for the header: "k=5", or a tree's shape in brief."""
    shape = config.tree
    if shape is None:
        return f"k={config.draft_span}"
    if shape.static:
        return f"tree of {len(shape.choices)} (static, depth {shape.depth})"
    return f"tree top-{shape.topk} · depth {shape.depth} · ≤{shape.nodes}"
