"""Exports: PNG of the requested size, SVG, CSV that matches the series, the HTML report, bad folders."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtGui import QImage

from desktop.export.command import export_session
from engine.compare import LockstepRunner
from engine.compare.layout import comparison_meta
from engine.config import ExperimentConfig
from engine.export import ExportError, final_table, html_report, write_csvs
from engine.session import Session, save_session


@pytest.fixture(scope="module")
def session_file(tmp_path_factory) -> Path:
    base = ExperimentConfig().with_updates(
        {
            "data.n_samples": 200,
            "model.hidden": [8],
            "train.epochs": 3,
            "train.batch_size": 32,
            "device": "cpu",
            "diagnostics.enabled": False,
            "metrics.enabled": False,
            "probes.every": 5,
        }
    )
    runner = LockstepRunner()
    for name in ("sgd", "adam"):
        runner.add(name, base.with_updates({"optim.name": name}))
    runner.run()
    recs = runner.records()
    p = tmp_path_factory.mktemp("exp") / "c.descent"
    save_session(Session(runs=recs, meta={"comparison": comparison_meta(None, ["sgd", "adam"])}), p)
    return p


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self.diff_rows: list[str] = []
        self.imgs = 0
        self._table = ""
        self._in_tbody = False
        self._row_cls = ""
        self._first_cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id", "")
            self.ids.append(self._table)
        elif tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self.rows[self._table] = self.rows.get(self._table, 0) + 1
            self._row_cls = a.get("class", "")
            self._first_cell = [] if self._row_cls == "diff" else None
        elif tag == "img" and a.get("src", "").startswith("data:image/png;base64,"):
            self.imgs += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_tbody = False
        elif tag == "td" and self._first_cell is not None:
            self.diff_rows.append("".join(self._first_cell))
            self._first_cell = None

    def handle_data(self, data):
        if self._first_cell is not None:
            self._first_cell.append(data)


def test_export_everything(qapp, session_file, tmp_path):
    out = tmp_path / "out"
    files = export_session(session_file, out, {"png", "svg", "csv", "html"}, width=640, height=400, scale=1.5)
    names = {p.name for p in files}
    assert {
        "loss.png",
        "val_loss.png",
        "val_acc.png",
        "loss.svg",
        "sgd_steps.csv",
        "adam_epochs.csv",
        "final_metrics.csv",
        "report.html",
    } <= names
    assert {"network_sgd.png", "network_sgd.svg", "network_adam.png", "network_adam.svg"} <= names
    for png in out.glob("*.png"):
        img = QImage(str(png))
        # the network view is laid out at least 1400×800 so every neuron's map stays readable;
        # every PNG is drawn at --scale 1.5
        want = (2100, 1200) if png.name.startswith("network_") else (960, 600)
        assert (img.width(), img.height()) == want, png.name
        a = np.frombuffer(bytes(img.convertToFormat(QImage.Format_RGB32).constBits()), np.uint8)
        assert a.std() > 10, f"{png.name} is blank"
    svg = (out / "val_loss.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and len(svg) > 2000


def test_csv_columns_match_series_exactly(session_file, tmp_path):
    from engine.session import load_session

    s = load_session(session_file)
    write_csvs(s, tmp_path)
    for run in s.runs:
        for kind in ("steps", "epochs"):
            rows = list(csv.reader(io.StringIO((tmp_path / f"{run.name}_{kind}.csv").read_text())))
            header, body = rows[0], rows[1:]
            group = kind[:-1]
            expected = sorted(k.split("/", 1)[1] for k in run.series if k.startswith(f"{group}/"))
            assert header == [group] + expected
            for j, col in enumerate(expected, start=1):
                got = np.array([float(r[j]) for r in body])
                assert np.array_equal(got, run.series[f"{group}/{col}"]), (run.name, col)
            assert [int(r[0]) for r in body] == list(range(1, len(body) + 1))
    final = list(csv.DictReader(io.StringIO((tmp_path / "final_metrics.csv").read_text())))
    assert [r["run"] for r in final] == ["sgd", "adam"]
    assert float(final[1]["val_loss"]) == s.runs[1].final["val_loss"]


def test_html_report_parses_and_highlights_differences(session_file):
    from engine.session import load_session

    s = load_session(session_file)
    text = html_report(s, [("Validation loss", b"\x89PNG fake")], ["#0072B2", "#E69F00"])
    p = _Tables()
    p.feed(text)
    assert "final-metrics" in p.ids and p.rows["final-metrics"] == 2
    assert p.diff_rows == ["optim.name"] and p.rows["config-diff"] == 1
    assert p.imgs == 1 and "<script>" in text and "http" not in text.split("<body>")[1].replace("https://", "")
    cols, rows = final_table(s)
    best = min(rows, key=lambda r: r["val_loss"])
    assert best["name"] == "adam"  # on this spiral Adam ends lower than plain SGD after 3 epochs


def test_bad_folders_give_one_line_errors(session_file, tmp_path):
    from engine.session import load_session

    s = load_session(session_file)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ExportError, match="cannot create the folder"):
        write_csvs(s, tmp_path / "afile" / "sub")
    with pytest.raises(ExportError, match="/proc/descent-export"):
        write_csvs(s, "/proc/descent-export")


@pytest.mark.gui
def test_tab_export_of_plots_and_3d_views(qtbot, tmp_path):
    import pyqtgraph as pg
    import pyqtgraph.opengl as gl
    from PySide6.QtWidgets import QHBoxLayout, QWidget

    from desktop.export.menu import export_tab
    from desktop.export.plot_menu import plot_csv

    # a 2D tab (under Xvfb/Mesa a GL widget beside a raster view in one window gets no
    # framebuffer, so 2D and 3D are checked in separate windows, as the app's tabs are)
    pw = pg.PlotWidget(title="A plot")
    pw.plot([1, 2, 3], [3, 1, 2], name="c")
    pw.resize(600, 400)
    qtbot.addWidget(pw)
    pw.show()
    qtbot.waitExposed(pw)
    files = export_tab(pw, tmp_path, "png", scale=2)
    assert [p.name for p in files] == ["A_plot.png"]
    assert QImage(str(tmp_path / "A_plot.png")).width() == round(pw.getPlotItem().sceneBoundingRect().width() * 2)
    rows = plot_csv(pw.getPlotItem()).splitlines()
    assert rows[0] == "c x,c y" and rows[1:] == ["1.0,3.0", "2.0,1.0", "3.0,2.0"]

    w = QWidget()
    lay = QHBoxLayout(w)
    view3d = gl.GLViewWidget()
    view3d.addItem(gl.GLSurfacePlotItem(z=np.random.default_rng(0).normal(size=(10, 10)), shader="heightColor"))
    lay.addWidget(view3d)
    w.resize(500, 400)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(100)
    files = export_tab(w, tmp_path / "3d", "png")
    assert [p.name for p in files] == ["3d_view_1.png"]
    img3d = QImage(str(files[0]))
    assert img3d.width() > 300 and img3d.height() > 300
    a = np.frombuffer(bytes(img3d.convertToFormat(QImage.Format_RGB32).constBits()), np.uint8)
    assert a.std() > 5, "the 3D export is blank"

    # Descent's offscreen 3D view (the playground's surface) is exported the same way.
    from desktop.gl_offscreen import OffscreenGLView

    w2 = QWidget()
    off = OffscreenGLView()
    off.addItem(gl.GLSurfacePlotItem(z=np.random.default_rng(1).normal(size=(10, 10)), shader="heightColor"))
    QHBoxLayout(w2).addWidget(off)
    w2.resize(500, 400)
    qtbot.addWidget(w2)
    w2.show()
    qtbot.waitExposed(w2)
    qtbot.wait(100)
    files = export_tab(w2, tmp_path / "off", "png")
    assert [p.name for p in files] == ["3d_view_1.png"]
    a = np.frombuffer(bytes(QImage(str(files[0])).convertToFormat(QImage.Format_RGB32).constBits()), np.uint8)
    assert a.std() > 5, "the offscreen 3D export is blank"
    with pytest.raises(ExportError, match="no plots"):
        export_tab(QWidget(), tmp_path, "png")


def test_plots_created_after_the_window_get_the_export_entries(qtbot):
    import pyqtgraph as pg

    from desktop.export.menu import add_export_entries
    from desktop.export.plot_menu import add_plot_context_menu
    from desktop.plotting import style_plot

    original_get_menu = pg.ViewBox.getMenu
    pw = pg.PlotWidget()
    style_plot(pw.getPlotItem(), "Made later", "x", "y")  # how the views make their plots
    qtbot.addWidget(pw)
    vb = pw.getPlotItem().getViewBox()
    menu = vb.getMenu(None)  # what a right-click asks for
    texts = [a.text() for a in menu.actions()]
    assert any(t.startswith("Save plot as PNG") for t in texts) and any("CSV" in t for t in texts)
    add_plot_context_menu(pw.getPlotItem())  # only once
    add_export_entries(pw)
    assert sum(a.text().startswith("Save plot as PNG") for a in vb.menu.actions()) == 1
    # a plot made without style_plot gets them when a tab registers it; pyqtgraph's class is untouched
    bare = pg.PlotWidget()
    qtbot.addWidget(bare)
    assert not any("Save plot" in a.text() for a in bare.getPlotItem().getViewBox().getMenu(None).actions())
    add_export_entries(bare)
    assert any("Save plot" in a.text() for a in bare.getPlotItem().getViewBox().getMenu(None).actions())
    assert pg.ViewBox.getMenu is original_get_menu and not hasattr(pg.ViewBox, "_descent_lazy_export")
