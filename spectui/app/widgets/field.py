"""A text field whose editing keys happen in the order they were typed.

Textual's `Input` inserts a printable key in its own `_on_key`, but its editing keys
(backspace, delete, end, home, arrows…) are bindings: the key bubbles up through the
field's containers and the screen to the app, which then runs the field's action. A key
typed right behind one (a burst such as `End BSpace 3`, one read of the terminal) is already
inserted by then, so "5" became "53" and then "5": the typed 3 was lost. Here the field runs
its own bindings as it receives the key, so each key acts in turn.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class Field(Input):
    """An `Input` that runs its own key bindings in the order the keys arrive."""

    async def _on_key(self, event: events.Key) -> None:
        bindings = self._bindings.key_to_bindings.get(event.key, ())
        if bindings and not event.is_printable:
            event.stop()
            event.prevent_default()
            self._restart_blink()
            await self.run_action(bindings[0].action)
            return
        await super()._on_key(event)
