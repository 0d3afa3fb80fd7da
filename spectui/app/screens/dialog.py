"""The base of the app's modal screens: a dialog that closes exactly once."""

from __future__ import annotations

from typing import TypeVar

from textual.actions import SkipAction
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList, Select

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal screen whose `close` is safe to call twice, and whose lists page safely."""

    BINDINGS = [
        # Textual's own paging in an option list (the settings' policy drop-down, the prompt
        # examples) raises KeyError when pressed before the list is first laid out, as when
        # enter opens the drop-down and a page key follows at once.
        Binding("pageup", "page(-1)", show=False, priority=True),
        Binding("pagedown", "page(1)", show=False, priority=True),
    ]

    def close(self, result: ResultType | None = None) -> None:
        """Dismiss with `result`, unless this dialog is already closed.

        Keys mashed while a dialog closes (two enters, enter then escape) each ask it to
        close. Textual's `dismiss` pops whatever screen is on top, so a second call would pop
        the decode screen (a crash) or run the result callback twice (two restarts).
        """
        if self.is_current:
            self.dismiss(result)

    def action_page(self, direction: int) -> None:
        """In an option list, page keys go to its first or last option (lists here are short)."""
        focused = self.focused
        if isinstance(focused, Select):
            return  # its list may be opening (enter then page key, mashed): nothing to page yet
        if not isinstance(focused, OptionList):
            raise SkipAction()  # elsewhere the key does what it always does
        if direction < 0:
            focused.action_first()
        else:
            focused.action_last()
