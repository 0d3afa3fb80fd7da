"""The decode screen's panels: token stream, gate table, token tree, token detail, statistics."""

from spectui.app.widgets.gate_panel import GatePanel
from spectui.app.widgets.stats_panel import StatsPanel
from spectui.app.widgets.status_header import StatusHeader
from spectui.app.widgets.status_line import StatusLine
from spectui.app.widgets.token_detail import TokenDetail
from spectui.app.widgets.token_stream import TokenStream
from spectui.app.widgets.token_tree import TokenTree

__all__ = [
    "GatePanel",
    "StatsPanel",
    "StatusHeader",
    "StatusLine",
    "TokenDetail",
    "TokenStream",
    "TokenTree",
]
