"""Below the smallest terminal the decode screen is laid out for, it says so instead.

From MIN_WIDTH × MIN_HEIGHT up (the README's "Small terminals") every panel gives way in its
stated order and the verdicts stay readable; below it they would be cut past reading (a
verdict column cut to its marker), so the panels give way to one message saying how small
the terminal is, and come back as it grows. The decode goes on meanwhile.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Static

MIN_WIDTH, MIN_HEIGHT = 60, 20


def say_if_too_small(screen: Screen[Any]) -> None:
    """Set the screen's `-too-small` class (app.tcss hides the panels) and say why."""
    size = screen.size
    small = size.width < MIN_WIDTH or size.height < MIN_HEIGHT
    screen.set_class(small, "-too-small")
    if small:
        screen.query_one("#too-small", Static).update(
            f"The terminal is {size.width}×{size.height}: spectui needs at least "
            f"{MIN_WIDTH}×{MIN_HEIGHT}. Make it larger and the decode is back as it was "
            "(it goes on meanwhile); q quits."
        )
