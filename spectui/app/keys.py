"""The decode screen's keys: its BINDINGS, and what each needs of the session.

The Footer, the help screen and the command palette are all made from these bindings, so a
key is described once. A key whose action needs an ability the session lacks (a replay cannot
retune) is hidden from all three.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from textual.binding import ActiveBinding, Binding, BindingType

from spectui.engine.policy.registry import policy_label, policy_names
from spectui.engine.trace.source import Ability

DECODE_BINDINGS: list[BindingType] = [
    # Help and quit come first: a narrow Footer cuts off its last keys, never these two.
    Binding("question_mark", "help", "Help", key_display="?", tooltip="All keys", id="help"),
    Binding("q", "quit", "Quit", tooltip="Quit spectui", id="quit"),
    Binding(
        "space",
        "step",
        "Step",
        tooltip="Reveal the next gate check (at a round boundary: draft the next round)",
        id="step",
    ),
    Binding(
        "enter",
        "finish_round",
        "Round",
        tooltip="Run to the end of this round",
        id="finish_round",
    ),
    Binding(
        "p",
        "toggle_play",
        "Play",
        tooltip='Autoplay on/off (at "max" speed: engine speed, as f)',
        id="play",
    ),
    Binding(
        "f",
        "fast_forward",
        "Fast-forward",
        show=False,  # the Footer is full at 80 columns; ?, the palette and the gate panel name it
        tooltip="Decode at engine speed, redrawing 4 times a second (f, space or p stops)",
        id="fast_forward",
    ),
    Binding(
        "t",
        "toggle_policy",
        "Policy",
        tooltip="Next policy, from the next round (the help and the palette name the cycle)",
        id="policy",
    ),
    # The next four stay out of an 80-column Footer: it is full. From 120 columns the Footer
    # adds b and c (WIDE_FOOTER); the help and the palette list them all, and the header
    # names B while an earlier round is viewed.
    Binding(
        "b",
        "view_round(-1)",
        "◀ Round",
        show=False,
        tooltip="Previous round: view an earlier round's drafts and gate checks",
        id="prev_round",
    ),
    Binding(
        "n",
        "view_round(1)",
        "Round ▶",
        show=False,
        tooltip="Next round (past the last: back to live)",
        id="next_round",
    ),
    Binding(
        "B,shift+b",
        "branch",
        "Branch",
        show=False,
        key_display="B",
        tooltip="Branch here: redo the viewed round on, under the current settings",
        id="branch",
    ),
    Binding(
        "c",
        "compare",
        "Compare",
        show=False,
        tooltip="Decode the prompt under greedy-exact and soft-guarded side by side",
        id="compare",
    ),
    Binding(
        "s", "settings", "Settings", tooltip="Gate thresholds, draft span, bonus", id="settings"
    ),
    Binding("e", "edit_prompt", "Prompt", tooltip="Edit the prompt and restart", id="prompt"),
    Binding(
        "ctrl+r",
        "restart",
        "Restart",
        tooltip="Restart the decode from the prompt",
        id="restart",
    ),
    Binding(
        "w",
        "save_trace",
        "Save trace",
        show=False,  # the Footer is full at 80 columns; ?, the palette and the gate panel name it
        tooltip="Save this decode as a trace (JSON Lines) that `spectui replay FILE` opens",
        id="save_trace",
    ),
    Binding(
        "left",
        "select(-1)",
        "Prev token",
        show=False,
        id="select_prev",
        tooltip="Select the previous token: its gate row and the verifier's top-k",
    ),
    Binding(
        "right",
        "select(1)",
        "Next token",
        show=False,
        id="select_next",
        tooltip="Select the next token (past the last: back to live)",
    ),
    Binding(
        "home",
        "select_first",
        "First token",
        show=False,
        id="select_first",
        tooltip="Select the first generated token",
    ),
    Binding(
        "end,escape",
        "live",
        "Live",
        show=False,
        id="live",
        tooltip="Back to live: follow the latest gate check",
    ),
    Binding(
        "tab",
        "focus_tree",
        "Tree",
        show=False,
        id="focus_tree",
        tooltip="Into the round's token tree: ↑/↓ across its nodes, → into a node's children, "
        "← back out, o unfold, end follow the walk (tab or esc: out again)",
    ),
    Binding(
        "plus,equals_sign",
        "speed(1)",
        "Faster",
        show=False,
        id="faster",
        tooltip="Autoplay faster (0.5 steps/s … max)",
    ),
    Binding("minus", "speed(-1)", "Slower", show=False, id="slower", tooltip="Autoplay slower"),
    Binding(
        "right_square_bracket",
        "span(1)",
        "Span +1",
        show=False,
        id="span_up",
        tooltip="Draft one more token per round (from the next round)",
    ),
    Binding(
        "left_square_bracket",
        "span(-1)",
        "Span −1",
        show=False,
        id="span_down",
        tooltip="Draft one fewer token per round",
    ),
    Binding(
        "m",
        "toggle_marks",
        "Text marks",
        show=False,
        tooltip="Write each token's kind into the stream's text: [-rejected-]{correction}, "
        "[~discarded~], [?pending?], {+bonus} (for copying, or a terminal without strike-through)",
        id="text_marks",
    ),
    Binding(
        "y",
        "copy_output",
        "Copy text",
        show=False,
        tooltip="Copy the committed text (the prompt and the tokens that joined the output; "
        "no pending, rejected or discarded draft) to the clipboard",
        id="copy_output",
    ),
    Binding(
        "v",
        "sweep",
        "Sweep",
        show=False,
        tooltip="The sweep's settings and frontier (spectui --sweep FILE); enter decodes one",
        id="sweep",
    ),
]


# Keys the Footer adds from WIDE columns (at 80 it is full), with the shorter names they go
# by there so that all fit at 120: the help and the palette keep the full ones.
WIDE_FOOTER: dict[str, str] = {
    "fast_forward": "Fast",
    "focus_tree": "Tree",
    "prev_round": "Back",
    "compare": "Compare",
    "save_trace": "Save",
    "sweep": "Sweep",
}


# What a key does differently in a browser (`spectui serve`, where `App.is_web`): w hands the
# trace to the browser as a download, since the server's disk is not the visitor's; y's copy
# reaches the clipboard only where the page is a secure context (https, or localhost).
# id: (description, the wide Footer's short name, tooltip).
SERVED: dict[str, tuple[str, str, str]] = {
    "save_trace": (
        "Download trace",
        "Download",
        "Download this decode as a trace (JSON Lines) through the browser (nothing is written "
        "on the server); `spectui replay FILE` opens it",
    ),
    "copy_output": (
        "Copy text",
        "Copy",
        "Copy the committed text (the prompt and the tokens that joined the output) to the "
        "clipboard: in a browser, where the page is https or on localhost",
    ),
}


def served(binding: Binding) -> Binding:
    """`binding` as a browser visit offers it (SERVED's words where its action differs)."""
    if binding.id not in SERVED:
        return binding
    description, _, tooltip = SERVED[binding.id]
    return dataclasses.replace(binding, description=description, tooltip=tooltip)


def footer_keys(
    bindings: dict[str, ActiveBinding], *, wide: bool, in_browser: bool
) -> dict[str, ActiveBinding]:
    """The keys the Footer shows: from WIDE columns also WIDE_FOOTER's (`widened`); in a
    browser, named as they work there (`served`)."""
    if in_browser:
        bindings = {
            key: active._replace(binding=served(active.binding)) for key, active in bindings.items()
        }
    return help_and_quit_first(widened(bindings, in_browser=in_browser) if wide else bindings)


def help_and_quit_first(bindings: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
    """`?` and `q` before every other key, whatever has the focus: a focused widget's keys
    (the token tree's) come first in Textual's order and would push them off a narrow Footer."""
    first = ("help", "quit")
    ranked = sorted(
        bindings.items(),
        key=lambda item: first.index(item[1].binding.id) if item[1].binding.id in first else 2,
    )
    return dict(ranked)


def widened(
    bindings: dict[str, ActiveBinding], *, in_browser: bool = False
) -> dict[str, ActiveBinding]:
    """The Footer's keys from WIDE columns: WIDE_FOOTER's shown too, by their short names, in
    DECODE_BINDINGS' order (a key the app binds too, tab, would otherwise come first)."""
    order = {
        binding.id: at for at, binding in enumerate(DECODE_BINDINGS) if isinstance(binding, Binding)
    }
    wide = {}
    ranked = sorted(bindings.items(), key=lambda item: order.get(item[1].binding.id, -1))
    for key, active in ranked:
        short = WIDE_FOOTER.get(active.binding.id or "")
        if in_browser and short is not None and active.binding.id in SERVED:
            short = SERVED[active.binding.id][1]
        if short is not None:
            active = active._replace(
                binding=dataclasses.replace(active.binding, show=True, description=short)
            )
        wide[key] = active
    return wide


# Actions that need more than playing events, and what they need.
NEEDS: dict[str, Ability] = {
    "toggle_policy": Ability.RETUNE,
    "use_policy": Ability.RETUNE,
    "settings": Ability.RETUNE,
    "span": Ability.RETUNE,
    "branch": Ability.BRANCH,
    "edit_prompt": Ability.DECODE,
    "compare": Ability.DECODE,
    "sweep": Ability.DECODE,
}
# Why a session without an ability refuses a key that needs it (said in the status line).
REFUSALS: dict[Ability, str] = {
    Ability.RETUNE: "a replay plays the trace as it was recorded: its policy and settings "
    "cannot change (decode the prompt with `spectui` to try others)",
    Ability.BRANCH: "a replay cannot branch: going on from a round needs the models, and a "
    "replay has none",
    Ability.DECODE: "a replay has no models: another prompt (e), the compare view (c) or a "
    "sweep's setting needs `spectui` with the trace's models",
}
NO_SWEEP = "no sweep is open: `spectui --sweep FILE` opens one (FILE from `spectui sweep --out`)"


def binding_for(key: str) -> Binding | None:
    """The decode screen's binding of `key` (as Textual names it: "t", "B", "left")."""
    for binding in DECODE_BINDINGS:
        if isinstance(binding, Binding) and key in binding.key.split(","):
            return binding
    return None


KEY_NAMES = {
    "question_mark": "?",
    "equals_sign": "=",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "plus": "+",
    "minus": "-",
    "left": "←",
    "right": "→",
    "escape": "esc",
    "tab": "tab",
}


def policy_cycle() -> str:
    """The policies `t` cycles through, in its order, from the policy records."""
    return " → ".join(policy_label(name) for name in policy_names())


def describe(binding: Binding) -> str:
    """What a key does, in words (the help's and the palette's text): the policy key's made
    from the registered policies, so a new one is named there as soon as it is registered."""
    if action_name(binding.action) == "toggle_policy":
        return f"Policy: cycle {policy_cycle()} (from the next round)"
    return binding.tooltip or binding.description


def key_names(binding: Binding) -> str:
    """A binding's keys as a person types them: "? ", "← ", "end esc"."""
    return " ".join(KEY_NAMES.get(key, key) for key in binding.key.split(","))


def offered_bindings(
    bindings: list[BindingType],
    check_action: Callable[[str, tuple[object, ...]], bool | None],
    *,
    in_browser: bool = False,
) -> list[BindingType]:
    """The keys a screen offers, as the Footer and the palette show them (for the help and
    the palette); `in_browser`: as a browser visit offers them (`served`)."""
    return [
        served(binding) if in_browser and isinstance(binding, Binding) else binding
        for binding in bindings
        if not isinstance(binding, Binding)
        or check_action(action_name(binding.action), ()) is not False
    ]


def action_name(action: str) -> str:
    """An action without its arguments: "span(1)" -> "span"."""
    return action.split("(", 1)[0]
