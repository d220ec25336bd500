"""Pictures' curve decimation keeps every pixel column's extremes; plain file names from HTML titles."""

from __future__ import annotations

import numpy as np

from engine.export.decimate import minmax_decimate
from engine.export.files import plain_text, safe_stem


def test_each_column_keeps_its_min_max_and_the_breaks():
    rng = np.random.default_rng(0)
    n, columns = 100_000, 1600
    x = np.arange(n, dtype=float)
    y = np.cumsum(rng.normal(size=n))
    y[500] = np.nan
    xd, yd = minmax_decimate(x, y, 0, n - 1, columns)
    assert len(xd) <= 4 * columns + 2 and np.all(np.diff(xd) >= 0)
    assert np.isnan(yd).sum() == 1 and xd[np.isnan(yd)][0] == 500  # the break stays where it was
    col, cold = np.floor(x / (n - 1) * columns), np.floor(xd / (n - 1) * columns)
    for c in range(columns):
        m, md = col == c, cold == c
        assert np.nanmin(y[m]) == np.nanmin(yd[md]) and np.nanmax(y[m]) == np.nanmax(yd[md]), c
    assert (xd[0], xd[-1]) == (0, n - 1)
    # zoomed in: points outside the range collapse into one column each side, the line still reaches the edges
    xz, _ = minmax_decimate(x, y, 40_000, 41_000, 800)
    assert xz.min() < 40_000 and xz.max() > 41_000 and len(xz) < 4 * 800 + 10


def test_short_or_turning_curves_are_kept_whole():
    x = np.array([0.0, 1.0, 0.5, 2.0] * 2000)
    y = np.arange(len(x), dtype=float)
    assert minmax_decimate(x, y, 0, 2, 10)[0] is x  # a path that turns back
    assert len(minmax_decimate(np.arange(30.0), np.arange(30.0), 0, 29, 100)[0]) == 30


def test_plain_names_from_html_titles():
    assert plain_text("<span style='color: #0072B2'>sgd</span> loss &amp; accuracy") == "sgd loss & accuracy"
    taken: set[str] = set()
    assert safe_stem("<span style='color: #0072B2'>sgd</span> loss", taken) == "sgd_loss"
    assert safe_stem("<b>sgd</b>  loss", taken) == "sgd_loss_2"
    assert safe_stem("Gewichtsnorm (Schicht 2) — é", taken) == "Gewichtsnorm_Schicht_2_e"
    assert safe_stem("lr=0.1") == "lr-0.1" and safe_stem("<i></i>") == "run"
