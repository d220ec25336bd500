"""Publication-quality pictures: PNG size and scale, portable SVG (librsvg draws what the PNG
shows), PDF, plain file names, and one-line errors that leave no file behind."""

from __future__ import annotations

import contextlib
import errno
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
import pyqtgraph as pg
from PySide6.QtGui import QImage

from desktop.export.items import export_item
from desktop.export.menu import export_tab
from desktop.plotting import configure_pyqtgraph, style_plot
from engine.export import ExportError

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"

BLUE = (0x00, 0x72, 0xB2)
N = 100_000  # a long run's steps


def _plot(qtbot, title="<span style='color: #0072B2'>sgd</span> loss &amp; accuracy", n=N):
    configure_pyqtgraph()
    w = pg.GraphicsLayoutWidget()
    w.resize(800, 450)
    p = w.addPlot()
    style_plot(p, title, "step", "loss")
    rng = np.random.default_rng(0)
    x = np.arange(1, n + 1, dtype=float)
    y = np.exp(-x / (n / 4)) + 0.05 * rng.random(n) + 0.1
    p.addLegend()
    p.plot(x, y, pen=pg.mkPen("#0072B2", width=2), name="sgd")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    p.autoRange()
    qtbot.wait(20)
    (x0, x1), (y0, y1) = p.viewRange()
    assert x0 <= 1 and x1 >= n and y0 <= y.min() and y1 >= y.max()  # the whole curve is in view
    return w, p, y


def _rgb(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(bytes(img.constBits()), np.uint8)
    return a.reshape(img.height(), img.bytesPerLine())[:, : img.width() * 3].reshape(img.height(), img.width(), 3)


def _curve_rows(rgb: np.ndarray) -> np.ndarray:
    """Per pixel column, the mean row of the blue curve's pixels (NaN where none)."""
    mask = np.abs(rgb.astype(int) - BLUE).sum(axis=2) < 90
    rows = np.arange(rgb.shape[0])[:, None]
    count = mask.sum(axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, (mask * rows).sum(axis=0) / count, np.nan)


def test_png_at_size_and_scale(qtbot, tmp_path):
    w, p, _ = _plot(qtbot, n=2000)
    out = export_item(p, tmp_path / "a.png", width=640, height=400, scale=2.5)
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1600, 1000)
    default = QImage(str(export_item(p, tmp_path / "b.png")))
    assert default.width() >= 1600 and abs(default.width() / default.height() - 800 / 450) < 0.05
    # the plot on screen keeps its size
    assert abs(p.sceneBoundingRect().width() - 800) < 20


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert (Debian librsvg2-bin) not installed")
def test_svg_is_small_portable_and_draws_like_the_png(qtbot, tmp_path):
    w, p, y = _plot(qtbot)
    curve = p.listDataItems()[0]
    drawn = curve.curve.xData.copy()
    svg = export_item(p, tmp_path / "plot.svg")
    text = svg.read_text()
    assert "vector-effect" not in text
    assert svg.stat().st_size <= 200_000, svg.stat().st_size  # 100 000 points, decimated per pixel column
    # the plot itself keeps every point and draws what it drew before
    assert len(curve.getOriginalDataset()[0]) == N and np.array_equal(curve.curve.xData, drawn)
    root = ET.fromstring(text)
    pw, ph = round(p.sceneBoundingRect().width()), round(p.sceneBoundingRect().height())
    assert (float(root.get("width")), float(root.get("height"))) == pytest.approx((pw, ph), abs=1)
    fonts = {e.get("font-family") for e in root.iter() if e.get("font-family")}
    assert fonts and all(f.endswith("sans-serif") for f in fonts), fonts
    titles = [e.text for e in root.iter("{http://www.w3.org/2000/svg}text") if e.text]
    assert any("sgd loss & accuracy" in t for t in titles) or {"sgd", "loss & accuracy"} <= {t.strip() for t in titles}
    rendered = tmp_path / "rsvg.png"
    subprocess.run(["rsvg-convert", "-w", str(pw), "-h", str(ph), "-o", str(rendered), str(svg)], check=True)
    png = export_item(p, tmp_path / "plot.png", scale=1)
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(rendered, SCREENSHOTS / "export_svg_through_rsvg.png")
    shutil.copy(png, SCREENSHOTS / "export_png_scale1.png")
    a, b = _curve_rows(_rgb(QImage(str(rendered)))), _curve_rows(_rgb(QImage(str(png))))
    both = np.isfinite(a) & np.isfinite(b)
    assert both.sum() > 0.8 * pw, both.sum()  # the curve spans the plot in both pictures
    assert np.nanmedian(np.abs(a[both] - b[both])) < 2.0
    assert np.isfinite(a).sum() < 1.1 * np.isfinite(b).sum()  # no smear: the same columns hold the curve
    # the curve's pixels, not a filled area: a few rows per column, as in the PNG
    mask_a = (np.abs(_rgb(QImage(str(rendered))).astype(int) - BLUE).sum(axis=2) < 90).sum()
    mask_b = (np.abs(_rgb(QImage(str(png))).astype(int) - BLUE).sum(axis=2) < 90).sum()
    assert 0.5 < mask_a / mask_b < 2.0, (mask_a, mask_b)


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert (Debian librsvg2-bin) not installed")
def test_svg_heat_map_keeps_its_cells_square_in_librsvg(qtbot, tmp_path):
    # a loss surface's grid is a small image stretched over the plot: librsvg smooths such an
    # image into a blur whatever `image-rendering` says; the PNG (and Inkscape, PDF) show cells
    configure_pyqtgraph()
    w = pg.GraphicsLayoutWidget()
    w.resize(500, 400)
    p = w.addPlot()
    style_plot(p, "Surface", "a", "b")
    img = pg.ImageItem((np.indices((6, 6)).sum(axis=0) % 2).astype(float), levels=(0, 1))
    img.setColorMap(pg.colormap.get("viridis"))
    p.addItem(img)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    p.autoRange(padding=0)
    qtbot.wait(20)
    pw, ph = round(p.sceneBoundingRect().width()), round(p.sceneBoundingRect().height())
    svg = export_item(p, tmp_path / "heat.svg")
    assert "image-rendering:pixelated" in svg.read_text()
    rendered = tmp_path / "rsvg.png"
    subprocess.run(["rsvg-convert", "-w", str(pw), "-h", str(ph), "-o", str(rendered), str(svg)], check=True)
    a = _rgb(QImage(str(rendered))).astype(int)
    b = _rgb(QImage(str(export_item(p, tmp_path / "heat.png", scale=1)))).astype(int)
    # the cells inside the axes: every pixel is viridis' bottom or top colour, as in the PNG
    rows, cols = np.nonzero(np.abs(b - (253, 231, 36)).sum(axis=2) < 60)
    box = np.s_[rows.min() + 3 : rows.max() - 3, cols.min() + 3 : cols.max() - 3]
    ends = np.array([(68, 1, 84), (253, 231, 36)])
    off = np.abs(a[box][..., None, :] - ends).sum(axis=-1).min(axis=-1)
    assert (off > 60).mean() < 0.05, f"{(off > 60).mean():.0%} of the cells' pixels are blurred"
    assert np.abs(a[box] - b[box]).mean() < 12


def test_pdf_is_one_vector_page(qtbot, tmp_path):
    w, p, _ = _plot(qtbot, n=5000)
    pdf = export_item(p, tmp_path / "plot.pdf").read_bytes()
    assert (
        pdf.startswith(b"%PDF")
        and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type/Page") >= 1
    )
    assert b"/Subtype /Image" not in pdf  # the curve and text are vectors
    assert len(pdf) < 200_000


def test_tab_export_names_are_plain_and_unique(qtbot, tmp_path):
    w, p, _ = _plot(qtbot, n=500)
    p2 = w.addPlot(row=1, col=0)
    style_plot(p2, "<b>sgd</b> loss &amp; accuracy", "step", "loss")
    p2.plot([1, 2, 3], [1, 2, 1])
    p3 = w.addPlot(row=2, col=0)
    style_plot(p3, "Loss — α = 0.1 <span style='color:red'>(EMA)</span>", "step", "loss")
    p3.plot([1, 2, 3], [1, 2, 1])
    files = export_tab(w, tmp_path, "svg")
    assert sorted(f.name for f in files) == ["Loss_-_0.1_EMA.svg", "sgd_loss_accuracy.svg", "sgd_loss_accuracy_2.svg"]


def test_bad_output_gives_one_line_and_no_file(qtbot, tmp_path, monkeypatch):
    w, p, _ = _plot(qtbot, n=500)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ExportError, match="cannot create the folder"):
        export_item(p, tmp_path / "afile" / "sub" / "x.svg")
    with pytest.raises(ExportError, match="unknown image format '.bmp'"):
        export_item(p, tmp_path / "x.bmp")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os

        if not os.access(ro, os.W_OK):  # root can write anywhere
            with pytest.raises(ExportError, match="read-only"):
                export_item(p, ro / "x.png")
    finally:
        ro.chmod(0o700)

    import engine.export.files

    real_atomic_write = engine.export.files.atomic_write

    class FullDisk:
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    @contextlib.contextmanager
    def full_disk_writer(path):
        with real_atomic_write(path):  # the real temporary file, removed on the error
            yield FullDisk()

    monkeypatch.setattr(engine.export.files, "atomic_write", full_disk_writer)
    out = tmp_path / "full"
    out.mkdir()
    for ext in ("png", "svg", "pdf"):
        with pytest.raises(ExportError) as e:
            export_item(p, out / f"plot.{ext}")
        assert "No space left on device" in str(e.value) and "\n" not in str(e.value)
    assert list(out.iterdir()) == []


@pytest.mark.gui
def test_3d_view_exports_at_the_chosen_scale_with_its_axes_and_colour_bar(qtbot, tmp_path):
    from PySide6.QtWidgets import QHBoxLayout, QWidget

    from desktop.views.playground_plots import Surface3D, SurfaceGrid
    from engine.playground.config import make_config
    from engine.playground.functions import get_function

    cfg = make_config("rosenbrock")
    view = Surface3D()
    view.set_grid(SurfaceGrid(get_function("rosenbrock"), cfg.params, 40, log=True), pg.colormap.get("viridis"))
    w = QWidget()
    QHBoxLayout(w).addWidget(view)
    w.resize(420, 320)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(50)
    (png,) = export_tab(w, tmp_path, "png", scale=2)
    img = QImage(str(png))
    assert (img.width(), img.height()) == (2 * view.width(), 2 * view.height())
    rgb = _rgb(img)
    strip = rgb[:, -int(0.2 * img.width()) :]
    yellow = (strip[..., 0] > 200) & (strip[..., 1] > 200) & (strip[..., 2] < 90)  # viridis' top
    purple = (strip[..., 0] > 50) & (strip[..., 1] < 40) & (strip[..., 2] > 60)  # ... and its bottom
    assert yellow.sum() > 50 and purple.sum() > 50, "no colour bar"
    assert rgb[:, : img.width() // 2].std() > 10, "the 3D surface is blank"
    # the axes: dark grey lines and labels (ticks, x / y / f titles) around the surface
    scene = rgb[:, : int(0.75 * img.width())].astype(int)
    grey = (scene.max(axis=2) < 110) & (scene.max(axis=2) - scene.min(axis=2) < 25)
    assert grey.sum() > 1500, "no 3D axes"
    assert grey[int(0.55 * img.height()) :].sum() > 500, "no axis along the front floor edges"
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(png, SCREENSHOTS / "export_3d_with_axes.png")
