"""A Static for content that changes many times a second.

`Static.update` asks for a layout pass by default, and a layout pass re-measures every panel
on the screen: at autoplay speed that alone delays key presses. A panel tells us the *shape*
of its new content (its line count, say), and only a change of shape costs a layout; and a
panel whose inputs did not change is not redrawn at all.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.visual import VisualType
from textual.widgets import Static

# A `.panel`'s subtitle fits in its content width less this: the spaces the border keeps
# around it (the padding covers the corners' dashes). Longer, Textual cuts it with "…".
BORDER_SPARE = 2


class SkipsUnchanged:
    """A widget the screen redraws only when the inputs it draws from change."""

    _drawn: Hashable = None

    def unchanged(self, inputs: Hashable) -> bool:
        """True when `inputs` are what the widget last drew from (the caller may skip drawing)."""
        if inputs == self._drawn:
            return True
        self._drawn = inputs
        return False

    def forget(self) -> None:
        """Draw next time whatever the inputs (after a resize, say)."""
        self._drawn = None


class Panel(SkipsUnchanged, Static):
    """A Static that repaints without a layout pass while its content keeps its shape."""

    _shape: Hashable = None

    def forget(self) -> None:
        """Draw next time whatever the inputs, and lay out again."""
        super().forget()
        self._shape = None

    def show_content(self, content: VisualType, shape: Hashable) -> None:
        """Show `content`; `shape` (e.g. its height) decides whether layout must be redone."""
        changed = shape != self._shape
        self._shape = shape
        self.update(content, layout=changed)
