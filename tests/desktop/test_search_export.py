"""`descent export` of the tuning lab: the search's plots and the lr range test's curve as
PNG/SVG, their CSVs, and the report page that shows them."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtGui import QImage

from desktop.export.command import export_session
from engine.config import ExperimentConfig
from engine.session import Session, save_session
from engine.states import RunState
from engine.tuning.lr_range import LrRangeSettings
from engine.tuning.lr_range_snapshot import STOP_DIVERGED, LrRangeResult, smooth
from engine.tuning.snapshot import Round, SearchSnapshot, TrialRecord
from engine.tuning.storage import session_with_search

SEARCH_PLOTS = ("search_history", "search_curves", "search_scatter", "search_parallel", "search_importance")


def _session() -> Session:
    rng = np.random.default_rng(1)
    trials = []
    for n in range(12):  # a bowl with its floor at lr 0.1, wd 1e-4
        lr, wd = 10 ** rng.uniform(-4, 0), 10 ** rng.uniform(-6, -1)
        score = 0.2 + 0.5 * (math.log10(lr) + 1) ** 2 + 0.05 * (math.log10(wd) + 4) ** 2
        params = {"optim.lr": lr, "optim.weight_decay": wd}
        trials.append(TrialRecord(n, 1, RunState.FINISHED, params, score=score, curve=(2 * score, score)))
    space = ("optim.lr=log:0.0001:1", "optim.weight_decay=log:1e-06:0.1")
    snap = SearchSnapshot("bowl", ExperimentConfig(), (Round(1, space, "random"),), tuple(trials), 12)
    session = session_with_search(snap, Session())
    settings = LrRangeSettings(1e-5, 1.0, 60)
    lrs = settings.lrs()
    x = np.log10(lrs)
    losses = 2.3 - 1.5 / (1 + np.exp(-3 * (x + 2.5))) + np.where(x > -0.7, 20 * (x + 0.7) ** 2, 0)
    config = ExperimentConfig().with_updates({"data.name": "digits"})
    result = LrRangeResult.of(config, settings, lrs, losses, smooth(losses, 0.95), STOP_DIVERGED, 0.1)
    result.store_in(session)
    return session


def _ink(path) -> float:
    """The share of pixels that are not white (a blank plot has only its frame)."""
    img = QImage(str(path)).convertToFormat(QImage.Format_RGB32)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.width(), 4)[..., :3]
    return float((arr.min(axis=2) < 200).mean())


def test_search_and_lr_find_plots_csvs_and_report(qapp, tmp_path):
    path = tmp_path / "tuned.descent"
    save_session(_session(), path)
    files = export_session(path, tmp_path / "out", {"png", "svg", "csv", "html"}, 900, 560, 2.0)
    names = {f.name for f in files}
    for key in (*SEARCH_PLOTS, "lr_find"):
        assert {f"{key}.png", f"{key}.svg"} <= names, key
        img = QImage(str(tmp_path / "out" / f"{key}.png"))
        assert (img.width(), img.height()) == (1800, 1120)
        assert _ink(tmp_path / "out" / f"{key}.png") > 0.01, f"{key}.png looks blank"
        assert "<svg" in (tmp_path / "out" / f"{key}.svg").read_text()[:2000]
    assert "search_trials.csv" in names
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "lr_find.csv").read_text())))
    assert len(rows) == 60
    marked = {r["suggestion"]: float(r["lr"]) for r in rows if r["suggestion"]}
    suggested = [lr for name, lr in marked.items() if "(suggested)" in name]
    assert len(suggested) == 1 and 1e-4 < suggested[0] < 1e-1  # on the falling part of the curve
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("data:image/png") >= 6
    assert "Search: validation loss over optim.lr and optim.weight_decay" in html and "LR range test" in html


def test_a_one_parameter_search_plots_the_score_over_it(qapp, tmp_path):
    """With lr alone, the picture is the validation loss over lr (not lr against lr), and the
    rectangle narrows lr only."""
    import pyqtgraph as pg

    from desktop.views.search_plots import PicturePlot
    from engine.tuning.space import parse_space

    trials = [
        TrialRecord(n, 1, RunState.FINISHED, {"optim.lr": lr}, score=1.0 + (math.log10(lr) + 1) ** 2, curve=(2.0,))
        for n, lr in enumerate((1e-4, 1e-3, 1e-2, 1e-1, 1.0))
    ]
    rounds = (Round(1, ("optim.lr=log:0.0001:1",), "random"),)
    snap = SearchSnapshot("one", ExperimentConfig(), rounds, tuple(trials), 5)
    widget = pg.PlotWidget()  # kept: the plot item lives as long as its widget
    plot = widget.getPlotItem()
    picture = PicturePlot(plot)
    picture.set_axes(parse_space(["optim.lr=log:0.0001:1"]).params[0], None)
    picture.draw(snap)
    xs, ys = picture.scatter.getData()
    assert np.allclose(xs, [-4, -3, -2, -1, 0]) and np.allclose(ys, [10.0, 5.0, 2.0, 1.0, 2.0])
    assert plot.getAxis("left").labelText == "validation loss"
    (x_lo, x_hi), _ = picture.rectangle()
    assert 1e-4 < x_lo < x_hi < 1.0
    out = tmp_path / "one"
    path = tmp_path / "one.descent"
    save_session(session_with_search(snap, Session()), path)
    export_session(path, out, {"png"}, 600, 400, 1.0)
    assert _ink(out / "search_scatter.png") > 0.01
