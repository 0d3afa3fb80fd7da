"""How fast the app steps, redraws and hands the interpreter over: every pacing constant.

Each figure was chosen by a measurement on the bundled pair, mostly with
`benchmarks/app_latency.py` (key-to-repaint latency, and fast-forward's share of the headless
engine's speed); the comment beside it says which. The step hand-off (`control.py`), the worker
(`driver.py`), the app (`app.py`) and the decode screen's painter (`screens/decode/painter.py`)
read them from here.
"""

from __future__ import annotations

# --- autoplay (control.py) ------------------------------------------------------------------

# Autoplay speeds, slowest first: (seconds between steps, label). A step is one gate check
# (or the drafting of a round), so "4 steps/s" is four a second. "max" is engine speed, as
# fast-forward (f) is: no rest between steps and no wait for a redraw (its seconds unused).
SPEEDS: tuple[tuple[float, str], ...] = (
    (2.0, "0.5 steps/s"),
    (1.0, "1 step/s"),
    (0.5, "2 steps/s"),
    (0.25, "4 steps/s"),
    (0.1, "10 steps/s"),
    (1 / 30, "max"),
)
DEFAULT_SPEED = 3
MAX_SPEED = len(SPEEDS) - 1

# --- engine speed: fast-forward, or autoplay at "max" (control.py, driver.py) ----------------

# Fast-forward posts events in batches; at most this many may wait in the screen's queue, so
# a key press never queues behind more than a few rounds' worth of events.
BATCHES_AHEAD = 2
# Seconds that engine speed pauses for a key's repaint. Both threads run Python, and one
# interpreter lock means a repaint competing with the engine takes about twice as long. Timed,
# not ended by the repaint: Textual runs a key's binding after the screen's key handler, and an
# after-refresh callback can run before the frame the action asks for (seen in a probe of
# benchmarks/app_latency.py). A key costs the engine 0.1 s; a repaint takes ~20-40 ms here.
KEY_HOLD = 0.1
# Seconds the worker rests after posting a batch at engine speed. A thread waiting for the
# interpreter lock gets it only after the holder's switch interval (5 ms), so without a rest a
# key's repaint queues behind the engine's Python; measured with benchmarks/app_latency.py on
# the bundled pair (1 thread): no rest 73% of the engine's speed, key-to-repaint p50 38 ms;
# 1 ms 67%, 24 ms; 3 ms 55%, 21 ms.
ROUND_REST = 0.001

# --- the interpreter lock (app.py) ------------------------------------------------------------

# The interpreter lock's switch interval while the app runs (Python's default: 5 ms). The
# engine's thread and the screen's share the lock, and a thread waiting for it gets it only
# after the holder's interval: a key's repaint during fast-forward waited up to 5 ms per
# hand-over (p95 54.8 ms, benchmarks/app_latency.py). 1 ms hands over sooner; torch releases
# the lock inside its kernels, so the engine loses little.
SWITCH_INTERVAL = 0.001

# --- redraws (screens/decode/painter.py) ----------------------------------------------------

# Seconds: engine events redraw the screen at most 15 times a second. Timed autoplay waits
# for each redraw; fast-forward (f, or "max") does not: its redraws are coalesced here, and
# the idle time between them keeps keys fast (`benchmarks/app_latency.py`).
REDRAW_INTERVAL = 1 / 15
# At engine speed, at most 4 a second: a frame of a 120×40 screen takes Textual ~25 ms on a
# CPU core the engine's thread needs too (measured: the app's fast-forward speed went from
# 50% to 66% of the engine's), and nobody reads tokens flying past at hundreds a second.
FAST_REDRAW_INTERVAL = 1 / 4
# ... and of those, one a second redraws every panel; the others only the header and the
# stream (the decode's progress): a frame of every panel costs ~60 ms of the UI thread on
# this 2-core machine (the token detail ~19, the stats ~13, the gates ~9, the stream ~17),
# and a key pressed meanwhile waits for it. A key's own redraw draws every panel.
FULL_REDRAW_INTERVAL = 1.0
