"""Metrics: confusion matrix, per-class precision/recall/F1, ROC and PR curves with AUC (a
threshold slider for binary problems), and loss vs accuracy on one time axis."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.plotting import run_pen, style_plot
from desktop.views.base import View
from engine.events import EpochEnd, Event, series_events
from engine.metrics import confusion_at_threshold
from engine.metrics.snapshot import MetricsSnapshot, from_record

TRAIN, VAL = "#0072B2", "#D55E00"


class MetricsView(View):
    title = "Metrics"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.run_id = ""
        self.latest: MetricsSnapshot | None = None
        self._pending_metrics: MetricsSnapshot | None = None
        self.epochs: dict[str, list[float]] = {
            k: [] for k in ("epoch", "train_loss", "val_loss", "train_acc", "val_acc")
        }
        # confusion matrix + per-class table
        self.glw_cm = pg.GraphicsLayoutWidget()
        self.p_cm = self.glw_cm.addPlot()
        style_plot(self.p_cm, "Confusion matrix (validation; colour = row fraction)", "predicted class", "true class")
        self.p_cm.showGrid(x=False, y=False)
        self.p_cm.invertY(True)
        self.p_cm.setAspectLocked(True)
        self.cm_image = pg.ImageItem()
        self.cm_image.setLookupTable(
            pg.colormap.get("CET-L6").getLookupTable(nPts=256)
            if "CET-L6" in pg.colormap.listMaps()
            else pg.colormap.get("viridis").getLookupTable(nPts=256)
        )
        self.p_cm.addItem(self.cm_image)
        self.cm_text: list[pg.TextItem] = []
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["class", "precision", "recall", "F1", "ROC AUC", "support"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        # ROC / PR / loss vs accuracy
        self.glw = pg.GraphicsLayoutWidget()
        self.p_roc = self.glw.addPlot(row=0, col=0)
        self.p_pr = self.glw.addPlot(row=0, col=1)
        self.p_la = self.glw.addPlot(row=1, col=0, colspan=2)
        style_plot(self.p_roc, "ROC (one-vs-rest)", "false positive rate", "true positive rate")
        style_plot(self.p_pr, "Precision–recall", "recall", "precision")
        style_plot(self.p_la, "", "epoch", "loss")
        self.p_la.setTitle(
            f"Loss (solid, left) vs accuracy (dashed, right): <span style='color:{TRAIN}'>train</span>, "
            f"<span style='color:{VAL}'>validation</span>",
            size="9pt",
        )
        self.p_la.getAxis("left").enableAutoSIPrefix(False)
        for p in (self.p_roc, self.p_pr):
            p.setRange(xRange=(0, 1), yRange=(0, 1.02), padding=0.02)
        # one key for both plots, beside them: ten classes' entries never cover a curve
        self.class_key = pg.LegendItem(labelTextSize="8pt", verSpacing=-4)
        self.glw.addItem(self.class_key, row=0, col=2)
        self.p_roc.plot([0, 1], [0, 1], pen=pg.mkPen("#777", style=Qt.DashLine))
        self.roc_curves: list[pg.PlotDataItem] = []
        self.pr_curves: list[pg.PlotDataItem] = []
        self.roc_point = pg.ScatterPlotItem(size=11, brush=pg.mkBrush("#ffffff"), pen=pg.mkPen("#000"))
        self.pr_point = pg.ScatterPlotItem(size=11, brush=pg.mkBrush("#ffffff"), pen=pg.mkPen("#000"))
        self.p_roc.addItem(self.roc_point)
        self.p_pr.addItem(self.pr_point)
        # loss (left axis) and accuracy (right axis, own ViewBox) on one epoch axis
        self.c_train_loss = self.p_la.plot(pen=pg.mkPen(TRAIN, width=2))
        self.c_val_loss = self.p_la.plot(pen=pg.mkPen(VAL, width=2))
        self.vb_acc = pg.ViewBox()
        self.p_la.showAxis("right")
        self.p_la.getAxis("right").setLabel("accuracy")
        self.p_la.scene().addItem(self.vb_acc)
        self.p_la.getAxis("right").linkToView(self.vb_acc)
        self.vb_acc.setXLink(self.p_la)
        self.vb_acc.setYRange(0, 1.02, padding=0)
        self.c_train_acc = pg.PlotDataItem(
            pen=pg.mkPen(TRAIN, width=2, style=Qt.DashLine), symbol="o", symbolSize=4, symbolBrush=TRAIN
        )
        self.c_val_acc = pg.PlotDataItem(
            pen=pg.mkPen(VAL, width=2, style=Qt.DashLine), symbol="o", symbolSize=4, symbolBrush=VAL
        )
        self.vb_acc.addItem(self.c_train_acc)
        self.vb_acc.addItem(self.c_val_acc)
        self.p_la.vb.sigResized.connect(self._on_la_resized)
        # threshold slider (binary problems)
        self.threshold = QSlider(Qt.Horizontal)
        self.threshold.setRange(1, 99)
        self.threshold.setValue(50)
        self.threshold.valueChanged.connect(self._on_threshold_changed)
        self.threshold_label = QLabel("threshold 0.50")
        self.summary = QLabel("no metrics yet: they are computed after every epoch (config: metrics.*)")
        top = QHBoxLayout()
        self.threshold_title = QLabel("Decision threshold (binary)")
        top.addWidget(self.threshold_title)
        top.addWidget(self.threshold, 1)
        top.addWidget(self.threshold_label)
        top.addSpacing(16)
        top.addWidget(self.summary, 2)
        left = QSplitter(Qt.Vertical)
        left.addWidget(self.glw_cm)
        left.addWidget(self.table)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(self.glw)
        split.setSizes([380, 620])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        self._set_binary(False)

    # -- events ---------------------------------------------------------------------------------
    def on_run_started(self, run_id: str, config) -> None:
        self.run_id = run_id
        self.latest = None
        self._pending_metrics = None
        for v in self.epochs.values():
            v.clear()
        self._draw_epochs()

    def handle_events(self, events: list[Event]) -> None:
        new = None
        epochs = False
        for e in events:
            if e.run_id != self.run_id:
                continue
            if isinstance(e, MetricsSnapshot):
                new = e
            elif isinstance(e, EpochEnd):
                self._add_epoch(e)
                epochs = True
        # Drawn while visible and at most every MIN_REDRAW_S: a hidden tab draws nothing, as
        # short epochs would otherwise redraw every metric plot several times a second.
        if new is not None:
            self._pending_metrics = new
        self._dirty = self._dirty or new is not None or epochs
        self.redraw_if_due()

    def _add_epoch(self, e: EpochEnd) -> None:
        self.epochs["epoch"].append(e.epoch)
        for k in ("train_loss", "val_loss", "train_acc", "val_acc"):
            self.epochs[k].append(e.metrics.get(k, np.nan))

    def redraw(self) -> None:
        new, self._pending_metrics = self._pending_metrics, None
        if new is not None:
            self.show_metrics(new)
        self._draw_epochs()
        self._mark_drawn()

    def load_session(self, session) -> None:
        if not session.runs:
            return
        rec = session.runs[0]
        self.on_run_started("", rec.config)
        saved = self.read_saved(rec, "metrics", lambda: (series_events("", rec.series), from_record(rec)))
        if saved is None:
            return
        replay, snaps = saved
        for event in replay:
            if isinstance(event, EpochEnd):
                self._add_epoch(event)
        self._draw_epochs()
        if snaps:
            self.show_metrics(snaps[-1])

    # -- drawing -----------------------------------------------------------------------------------
    def _set_binary(self, binary: bool) -> None:
        """The threshold slider exists for two-class problems only."""
        for w in (self.threshold_title, self.threshold, self.threshold_label):
            w.setVisible(binary)
        self.threshold.setEnabled(binary)
        self.roc_point.setVisible(binary)
        self.pr_point.setVisible(binary)

    def show_metrics(self, snap: MetricsSnapshot) -> None:
        self.latest = snap
        n = snap.n_classes
        self._set_binary(n == 2)
        scored = [int(c) for c in snap.scored_classes]
        self._ensure_curves(scored)
        for i, c in enumerate(scored):
            auc = snap.roc_auc[i]
            roc = snap.curves.get(f"roc/{c}")
            pr = snap.curves.get(f"pr/{c}")
            self.roc_curves[i].setData(*(roc[:2] if roc is not None else ([], [])))
            self.pr_curves[i].setData(*(pr[:2] if pr is not None else ([], [])))
            name = f"class {c}: AUC {auc:.3f}" if np.isfinite(auc) else f"class {c}: AUC n/a"
            if i < len(self.class_key.items):
                self.class_key.items[i][1].setText(name)
        self._fill_table(snap)
        self.summary.setText(
            f"epoch {snap.epoch}: accuracy {snap.accuracy:.3f} · macro ROC AUC "
            f"{snap.roc_auc_macro:.3f} · {int(snap.support.sum())} validation samples"
        )
        if n == 2 and snap.labels is not None:
            self._on_threshold_changed(self.threshold.value())
        else:
            self._draw_confusion(snap.confusion)

    def _ensure_curves(self, scored: list[int]) -> None:
        if len(self.roc_curves) == len(scored):
            return
        for c in self.roc_curves:
            self.p_roc.removeItem(c)
        for c in self.pr_curves:
            self.p_pr.removeItem(c)
        self.class_key.clear()
        width = 2 if len(scored) <= 3 else 1.5
        self.roc_curves = [self.p_roc.plot(pen=run_pen(c, width)) for c in scored]
        self.pr_curves = [self.p_pr.plot(pen=run_pen(c, width)) for c in scored]
        for c, item in zip(scored, self.roc_curves, strict=True):
            self.class_key.addItem(item, f"class {c}")

    def _fill_table(self, snap: MetricsSnapshot) -> None:
        n = snap.n_classes
        self.table.setRowCount(n)
        scored = [int(c) for c in snap.scored_classes]
        support = snap.support
        for c in range(n):
            auc = snap.roc_auc[scored.index(c)] if c in scored else np.nan
            vals = [
                str(c),
                f"{snap.precision[c]:.3f}",
                f"{snap.recall[c]:.3f}",
                f"{snap.f1[c]:.3f}",
                f"{auc:.3f}" if np.isfinite(auc) else "—",
                str(int(support[c])),
            ]
            for j, v in enumerate(vals):
                item = QTableWidgetItem(v)
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(c, j, item)

    def _draw_confusion(self, cm: np.ndarray) -> None:
        n = cm.shape[0]
        rows = cm.sum(1, keepdims=True).astype(float)
        frac = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
        # ImageItem's first axis is x (predicted), so transpose the (true, predicted) matrix.
        self.cm_image.setImage(frac.T, autoLevels=False, levels=(0.0, 1.0))
        self.cm_image.setRect(QRectF(-0.5, -0.5, n, n))
        if len(self.cm_text) != n * n:
            for t in self.cm_text:
                self.p_cm.removeItem(t)
            self.cm_text = []
            for i in range(n):
                for j in range(n):
                    t = pg.TextItem(anchor=(0.5, 0.5))
                    t.setPos(j, i)
                    self.p_cm.addItem(t)
                    self.cm_text.append(t)
            ticks = [[(k, str(k)) for k in range(n)]]
            self.p_cm.getAxis("bottom").setTicks(ticks)
            self.p_cm.getAxis("left").setTicks(ticks)
            self.p_cm.setRange(xRange=(-0.5, n - 0.5), yRange=(-0.5, n - 0.5), padding=0.02)
        for i in range(n):
            for j in range(n):
                t = self.cm_text[i * n + j]
                t.setText(str(int(cm[i, j])))
                t.setColor("#000000" if frac[i, j] > 0.6 else "#ffffff")

    def _on_threshold_changed(self, v: int) -> None:
        t = v / 100.0
        self.threshold_label.setText(f"threshold {t:.2f}")
        d = self.latest
        if d is None or d.n_classes != 2 or d.labels is None or d.probs is None:
            return
        labels, scores = d.labels, d.probs[:, 1]
        cm = confusion_at_threshold(labels, scores, t)
        (tn, fp), (fn, tp) = cm
        tpr = tp / max(1, tp + fn)
        fpr = fp / max(1, fp + tn)
        prec = tp / (tp + fp) if tp + fp else 1.0
        self.roc_point.setData([fpr], [tpr])
        self.pr_point.setData([tpr], [prec])
        self._draw_confusion(cm)
        acc = (tp + tn) / max(1, cm.sum())
        self.threshold_label.setText(
            f"threshold {t:.2f}: TPR {tpr:.2f}, FPR {fpr:.2f}, precision {prec:.2f}, accuracy {acc:.3f}"
        )

    def _on_la_resized(self) -> None:
        self.vb_acc.setGeometry(self.p_la.vb.sceneBoundingRect())
        self.vb_acc.linkedViewChanged(self.p_la.vb, self.vb_acc.XAxis)

    def _draw_epochs(self) -> None:
        e = np.asarray(self.epochs["epoch"], dtype=float)
        self.c_train_loss.setData(e, np.asarray(self.epochs["train_loss"], dtype=float))
        self.c_val_loss.setData(e, np.asarray(self.epochs["val_loss"], dtype=float))
        self.c_train_acc.setData(e, np.asarray(self.epochs["train_acc"], dtype=float))
        self.c_val_acc.setData(e, np.asarray(self.epochs["val_acc"], dtype=float))
