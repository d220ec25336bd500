"""The one palette of runs and racers: Okabe-Ito's colour-blind-safe set (without its
yellow, unreadable on white) and three more from Paul Tol's muted set. The desktop draws
runs with it (desktop/plotting.py: after the tenth, the colours repeat with another line
style) and the Playground colours its racers from it."""

from __future__ import annotations

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#882255", "#999933", "#7F7F7F")
