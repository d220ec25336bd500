"""The network view of each saved run as PNG and SVG (what `descent export` adds): the graph
of its last snapshot, the output's decision boundary with the data, and the first hidden
neuron enlarged."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop.export.items import export_item, png_bytes, render_png
from engine.export.files import ensure_folder, write_bytes_atomic
from engine.network.snapshot import from_record
from engine.session.record import Session

MIN_SIZE = (1400, 800)
"""The smallest image the view is drawn at (every neuron's picture stays readable)."""


def export_network_images(
    session: Session,
    folder: str | os.PathLike,
    formats: set[str],
    width: int = 900,
    height: int = 560,
    scale: float = 2.0,
) -> list[Path]:
    """network.png / network.svg (network_<run>.* when the session has several runs) of every
    run that saved a network snapshot, laid out at width×height logical pixels (at least
    MIN_SIZE), the PNG drawn at `scale` like the other plots (at most 16384 pixels a side); raises
    ExportError on a write failure."""
    from desktop.views.network_graph import NetworkDiagram
    from desktop.views.network_view import saved_points

    folder = ensure_folder(folder)
    files: list[Path] = []
    if not formats & {"png", "svg"}:
        return files
    runs = [(r, from_record(r)) for r in session.runs]
    runs = [(r, s[-1]) for r, s in runs if s]
    w, h = max(width, MIN_SIZE[0]), max(height, MIN_SIZE[1])
    for rec, snap in runs:
        d = NetworkDiagram()
        d.resize(w, h)
        d.setAttribute(Qt.WA_DontShowOnScreen, True)
        d.show()
        if snap.kind == "plane":
            d.set_points(saved_points(rec, snap))
        d.show_snapshot(snap)
        if len(snap.layers) > 2:
            d.select(1, 0)
        QApplication.processEvents()
        stem = "network" if len(runs) == 1 else f"network_{_safe(rec.name)}"
        if "png" in formats:
            # laid out larger than the plots: kept within what a PNG can be drawn at (16384 a side)
            fit = min(scale, 16384 / max(w, h))
            files.append(write_bytes_atomic(folder / f"{stem}.png", png_bytes(render_png(d.ci, fit))))
        if "svg" in formats:
            files.append(export_item(d.ci, folder / f"{stem}.svg"))
        d.close()
        d.deleteLater()
    return files


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:60] or "run"
