"""The data tab: the training split before and after preprocessing (lecture §3).

2D sets: two scatter plots coloured by class. Other sets: the covariance (or correlation)
matrix before and after, as heat maps with a symmetric colour scale, and each
covariance's condition number. Buttons open the user's own CSV, NPZ or image folder.
The split and the preprocessing fit run off the GUI thread (engine.data.report).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.plotting import color, style_plot
from desktop.views.base import View

if TYPE_CHECKING:
    from engine.data.report import PreprocessReport

RELEVANT = ("data", "train.val_fraction", "seed")  # what changes the data view


def diverging_lut() -> np.ndarray:
    """Blue → white → red lookup table (256×3) for signed matrices."""
    t = np.linspace(-1.0, 1.0, 256)[:, None]
    blue, red, white = np.array([33, 102, 172]), np.array([178, 24, 43]), np.array([255, 255, 255])
    lut = np.where(t < 0, white + (-t) * (blue - white), white + t * (red - white))
    return lut.astype(np.uint8)


def _data_key(config) -> str:
    return config.data.model_dump_json() + f"|{config.train.val_fraction}|{config.seed}"


def _report(cfg) -> PreprocessReport:
    """The preprocessing report, on the job's thread (torch is imported there)."""
    from engine.data.report import preprocessing_report

    return preprocessing_report(cfg)


class DataView(View):
    """Before/after preprocessing, with the covariance's condition number."""

    title = "Data"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.report: PreprocessReport | None = None
        self._key = ""

        self.summary = QLabel("…")
        self.summary.setWordWrap(True)
        self.summary.setObjectName("dataSummary")
        self.matrix_kind = QComboBox()
        self.matrix_kind.addItems(["covariance", "correlation"])
        self.matrix_kind.setToolTip("Heat map of the training inputs' covariance or correlation matrix")
        self.matrix_kind.currentTextChanged.connect(lambda _t: self._draw())
        buttons = QHBoxLayout()
        for text, slot, tip in (
            ("Open CSV…", self._on_open_csv_clicked, "A CSV with a header row and a label column"),
            ("Open NPZ…", self._on_open_npz_clicked, "An .npz archive with arrays X and y"),
            ("Open image folder…", self._on_open_folder_clicked, "A folder with one subfolder of images per class"),
        ):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("heat map:"))
        buttons.addWidget(self.matrix_kind)

        self.glw = pg.GraphicsLayoutWidget()
        self.p_before = self.glw.addPlot(row=0, col=0)
        self.p_after = self.glw.addPlot(row=0, col=1)
        self.cond_before = QLabel()
        self.cond_after = QLabel()
        self.cond_before.setWordWrap(True)
        self.cond_after.setWordWrap(True)
        conds = QHBoxLayout()
        conds.addWidget(self.cond_before, 1)
        conds.addWidget(self.cond_after, 1)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.glw)
        self.stack.addWidget(self.message)

        lay = QVBoxLayout(self)
        lay.addLayout(buttons)
        lay.addWidget(self.summary)
        lay.addWidget(self.stack, 1)
        lay.addLayout(conds)

        self.img_before = pg.ImageItem(lut=diverging_lut())
        self.img_after = pg.ImageItem(lut=diverging_lut())
        self.scatter_before = pg.ScatterPlotItem(size=5, pen=None)
        self.scatter_after = pg.ScatterPlotItem(size=5, pen=None)
        self.follow_config()
        self._config_stale = True  # computed when shown or when a run starts, not before the first paint

    # -- data -----------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Recompute for the controller's current config (off the GUI thread)."""
        cfg = self.controller.config
        key = _data_key(cfg)
        if key == self._key and not force:
            return
        self._key = key
        self.summary.setText(f"Loading {cfg.data.name}…")
        self.start_job(lambda: _report(cfg), self._on_job_result, self._on_job_error)

    def on_run_started(self, run_id: str, config) -> None:
        self._on_config_edited()  # now if shown, else when shown

    def load_session(self, session) -> None:
        self.refresh()

    def _on_job_error(self, message: str) -> None:
        self.report = None
        self.summary.setText(f"<span style='color:#D55E00'>{message}</span>")
        self.message.setText("No data to show: fix the problem above (data.* fields or the file) and it reloads.")
        self.stack.setCurrentWidget(self.message)
        self.cond_before.setText("")
        self.cond_after.setText("")

    def _on_job_result(self, report: PreprocessReport) -> None:
        self.report = report
        shape = "×".join(str(s) for s in report.input_shape)
        test = f", test {report.n_test}" if report.n_test else ", no test split"
        self.summary.setText(
            f"<b>{report.name}</b>: {report.n_classes} classes, samples of shape {shape}; "
            f"train {report.n_train}, validation {report.n_val}{test}. Preprocessing <b>{report.kind}</b>, "
            f"fitted on the training split only."
        )
        self._draw()

    # -- drawing --------------------------------------------------------------------------
    def _draw(self) -> None:
        from engine.data.report import format_condition

        r = self.report
        if r is None:
            return
        self.stack.setCurrentWidget(self.glw)
        for p in (self.p_before, self.p_after):
            p.clear()
            p.setAspectLocked(False)
            p.invertY(False)
        self.cond_before.setText(
            f"condition number of the training covariance before: <b>{format_condition(r.cond_before)}</b>"
        )
        self.cond_after.setText(f"after {r.kind}: <b>{format_condition(r.cond_after)}</b>")
        # No preprocessing: "after" would repeat "before"; one plot, and a sentence saying so.
        self.p_after.setVisible(r.kind != "none")
        if r.kind == "none":
            self.cond_after.setText(
                "no preprocessing (data.preprocess): the network sees these inputs as they are; "
                "choose standardize or a whitening in the panel to compare"
            )
        if r.before.shape[1] == 2:
            self._draw_scatter(r)
        elif r.cov_before is not None:
            self._draw_matrices(r)
        else:
            self.message.setText(f"{r.before.shape[1]} features: too many to draw their covariance matrix.")
            self.stack.setCurrentWidget(self.message)

    def _draw_scatter(self, r: PreprocessReport) -> None:
        brushes = [pg.mkBrush(color(int(k))) for k in r.labels]
        for plot, item, pts, title in (
            (self.p_before, self.scatter_before, r.before, "Training inputs (raw)"),
            (self.p_after, self.scatter_after, r.after, f"After {r.kind}"),
        ):
            if not plot.isVisible():
                continue
            style_plot(plot, title, "x1", "x2")
            item.setData(pos=pts, brush=brushes)
            plot.addItem(item)
            plot.setAspectLocked(True)
            plot.autoRange()

    def _draw_matrices(self, r: PreprocessReport) -> None:
        use_corr = self.matrix_kind.currentText() == "correlation"
        mats = (r.corr_before, r.corr_after) if use_corr else (r.cov_before, r.cov_after)
        name = "Correlation" if use_corr else "Covariance"
        for plot, item, m, title in (
            (self.p_before, self.img_before, mats[0], f"{name} (raw)"),
            (self.p_after, self.img_after, mats[1], f"{name} after {r.kind}"),
        ):
            if not plot.isVisible():
                continue
            lim = float(np.abs(m).max()) or 1.0
            style_plot(plot, f"{title} — scale ±{lim:.3g}", "feature j", "feature i")
            item.setImage(m.T, levels=(-lim, lim), autoLevels=False)  # ImageItem is x-major
            plot.addItem(item)
            plot.invertY(True)  # row 0 at the top, as a matrix is read
            plot.setAspectLocked(True)
            plot.autoRange()

    # -- user files -----------------------------------------------------------------------
    def _use(self, name: str, path: str) -> None:
        if not path:
            return
        for key, value in (("data.path", path), ("data.name", name)):
            err = self.controller.set_field(key, value)  # marks the run as needing a restart
            if err:
                self.summary.setText(f"<span style='color:#D55E00'>{err}</span>")
                return
        self.controller.set_config(self.controller.config)  # the panel shows the new values
        self.refresh(force=True)

    def _on_open_csv_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a CSV data set", "", "CSV files (*.csv *.tsv *.txt);;All files (*)"
        )
        self._use("csv", path)

    def _on_open_npz_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an NPZ data set", "", "NumPy archives (*.npz);;All files (*)")
        self._use("npz", path)

    def _on_open_folder_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open an image folder (one subfolder per class)")
        self._use("image_folder", path)
