"""The comparison's runs on one shared loss surface (a panel of the Compare tab).

The surface is a job (engine/compare/surface.py: PCA plane of all trajectories, filter of
the same architecture) on the app's JobRunner; the GUI thread only draws the heat map of
log10(loss) and each run's path in its colour, start ○ and end ●.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.jobs import JobRunner
from desktop.plotting import color, style_plot


class SharedSurfacePanel(QWidget):
    JOB_KEY = "compare:shared-surface"

    def __init__(
        self,
        get_records: Callable[[], list],
        colors: Callable[[], dict[str, int]],
        jobs: JobRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.get_records = get_records
        self.colors = colors
        self.jobs = jobs
        self.surface = None
        self.btn = QPushButton("Compute shared loss surface")
        self.btn.setToolTip(
            "PCA plane of all runs' trajectories (needs landscape.snapshots); runs must share model and data"
        )
        self.btn.clicked.connect(self.compute)
        self.status = QLabel("")
        top = QHBoxLayout()
        top.addWidget(self.btn)
        top.addWidget(self.status, 1)
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        style_plot(self.plot, "Shared loss surface (log10 loss)", "PC 1", "PC 2")
        self.plot.setClipToView(False)
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        self.plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.path_items: list = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.plot_widget, 1)

    def compute(self) -> bool:
        """Snapshot the runs (engine thread) and compute the surface off the GUI thread."""
        from engine.compare.surface import shared_surface_job

        if self.jobs.busy(self.JOB_KEY):
            return False
        try:
            records = self.get_records()
        except Exception as e:  # noqa: BLE001 - SessionError: the engine did not answer
            self._error(str(e))
            return False
        self.status.setText("computing…")
        self.btn.setEnabled(False)
        self.jobs.submit(
            self.JOB_KEY,
            shared_surface_job(records),
            on_result=self._on_job_result,
            on_progress=self._on_job_progress,
            on_error=self._on_job_error,
        )
        return True

    def _error(self, message: str) -> None:
        self.status.setText(f"<span style='color:#D55E00'>{message}</span>")

    def _on_job_progress(self, p) -> None:
        self.status.setText(f"computing… {100 * p.fraction:.0f}%")

    def _on_job_error(self, message: str) -> None:
        self.btn.setEnabled(True)
        self._error(message)

    def _on_job_result(self, surface) -> None:
        self.btn.setEnabled(True)
        self.show_surface(surface)

    def show_surface(self, surface) -> None:
        self.surface = surface
        a, b, loss = surface.alphas, surface.betas, surface.loss
        z = np.log10(np.clip(np.where(np.isfinite(loss), loss, np.nanmax(loss)), 1e-12, None))
        self.image.setImage(z, autoLevels=True)
        self.image.setRect(QRectF(float(a[0]), float(b[0]), float(a[-1] - a[0]), float(b[-1] - b[0])))
        for it in self.path_items:
            self.plot.removeItem(it)
        self.path_items = []
        cols = self.colors()
        for name, xy in surface.paths.items():
            c = color(cols.get(name, len(self.path_items)))
            line = self.plot.plot(xy[:, 0], xy[:, 1], pen=pg.mkPen(c, width=2.5), name=name)
            ends = self.plot.plot(
                [xy[0, 0], xy[-1, 0]],
                [xy[0, 1], xy[-1, 1]],
                pen=None,
                symbol="o",
                symbolSize=9,
                symbolBrush=[pg.mkBrush("w"), pg.mkBrush(c)],
                symbolPen=pg.mkPen(c, width=2),
            )
            self.path_items += [line, ends]
        ev = surface.explained_variance
        self.status.setText(f"{len(surface.paths)} paths · PCA explains {ev[0]:.0%} + {ev[1]:.0%} of the motion")

    def clear(self) -> None:
        self.jobs.cancel(self.JOB_KEY)
        self.btn.setEnabled(True)
        self.surface = None
        self.image.clear()
        for it in self.path_items:
            self.plot.removeItem(it)
        self.path_items = []
        self.status.setText("")

    def shutdown(self) -> None:
        h = self.jobs.handle(self.JOB_KEY)
        self.jobs.cancel(self.JOB_KEY)
        if h is not None:
            h.wait(5.0)
