"""What the app was started with that its screens read: one typed record, one accessor.

The decode screen opens the `e`, `c` and `v` screens without knowing the prompts file, the
--compare list or the sweep; those screens read them here (`launch_of(self.app)`) rather than
by `getattr(self.app, ...)`. Under another host app (a test's) they get the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spectui.engine.policy.registry import COMPARED
from spectui.engine.prompts import Prompt

if TYPE_CHECKING:
    from textual.app import App

    from spectui.engine.sweep.file import Sweep


@dataclass(frozen=True)
class Launch:
    """The app's start-up choices its screens read."""

    prompt_set: tuple[Prompt, ...] = ()  # what `e` offers (a prompts file's, with categories)
    compared_policies: tuple[str, ...] = COMPARED  # what `c` decodes, the reference first
    sweep: Sweep | None = None  # --sweep FILE: its view opens first, and `v` opens it again


def launch_of(app: App[Any]) -> Launch:
    """The `Launch` of a SpectuiApp; the defaults under any other app."""
    # The one place that asks: screens cannot import SpectuiApp (it imports them).
    launch = getattr(app, "launch", None)
    return launch if isinstance(launch, Launch) else Launch()
