"""The Playground tab, driven for real under Xvfb: surface, paths, contour clicks,
editing racers, replaying a session, and the frame time."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QPushButton

from desktop.plotting import configure_pyqtgraph
from desktop.views.playground import PlaygroundView
from engine.playground import make_config, run_race
from engine.playground.session import race_to_session
from engine.session import Session

pytestmark = pytest.mark.gui


@pytest.fixture
def view(qtbot):
    configure_pyqtgraph()
    v = PlaygroundView(None, config=make_config("rosenbrock", None, {"steps": 2000}))
    qtbot.addWidget(v)
    v.resize(1500, 900)
    v.show()
    qtbot.waitExposed(v)
    assert v.wait_computed(20)
    yield v
    v.shutdown()


def _colour_pixels(img: QImage, hex_color: str, tol: int = 40) -> int:
    """How many pixels are close to a colour (the paths are drawn in their racer's colour)."""
    img = img.convertToFormat(QImage.Format_RGB32)
    w, h = img.width(), img.height()
    a = np.frombuffer(img.constBits(), dtype=np.uint8, count=w * h * 4).reshape(h, w, 4)[:, :, :3][:, :, ::-1]
    target = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(a.astype(int) - target).max(axis=2) < tol).sum())


def test_race_draws_surface_paths_and_contour(view, qtbot, screenshot_dir):
    view.show_grad.setChecked(True)
    view.show_vel.setChecked(True)
    view.seek(2000)
    qtbot.wait(200)
    assert view.cursor == 2000
    # the 3D paths hold the drawn points, lifted onto the surface
    for item, _path in zip(view.surface.paths, view.paths()):
        pts = item.pos
        assert len(pts) > 100 and np.all(np.isfinite(pts))
        assert pts[:, 2].min() >= 0 and pts[:, 2].max() <= 4.2
    # arrows: -gradient for all 6 racers, -velocity for momentum, nesterov and adam (2 vertices each)
    assert len(view.surface.grad_arrows.pos) == 12 and len(view.surface.vel_arrows.pos) == 6
    gx, gy = view.contour.grad_items[5].getData()
    g = view.paths()[5].gradients[-1]
    d = np.array([gx[1] - gx[0], gy[1] - gy[0]])
    assert np.dot(d, -g) / (np.linalg.norm(d) * np.linalg.norm(g)) > 0.999  # points down the gradient
    # 2D curve of momentum ends near the minimum (1, 1)
    x, y = view.contour.curves[1].getData()
    assert abs(x[-1] - 1) < 0.01 and abs(y[-1] - 1) < 0.01
    # the legend shows the current loss and distance; adam is near the minimum
    assert view.table.item(5, 3).text() == "2000"
    assert float(view.table.item(1, 2).text()) < 0.01
    img = view.grab().toImage()
    path = screenshot_dir / "playground_rosenbrock.png"
    img.save(str(path))
    surf = view.surface.grabFramebuffer()
    surf.save(str(screenshot_dir / "playground_surface3d.png"))
    # every racer's colour is visible in the 3D view (lines + markers) and in the contour map
    contour = view.contour.grab().toImage()
    for r in view.cfg.racers:
        assert _colour_pixels(surf, r.color) > 10, r.label
        assert _colour_pixels(contour, r.color) > 20, r.label


def test_click_on_contour_sets_start_and_restarts(view, qtbot):
    vb = view.contour.getPlotItem().vb
    scene_pt = vb.mapViewToScene(QPointF(0.5, 2.0))
    widget_pt = view.contour.mapFromScene(scene_pt)
    qtbot.mouseClick(view.contour.viewport(), Qt.LeftButton, pos=widget_pt)
    qtbot.waitUntil(lambda: view.cfg.start is not None, timeout=3000)
    sx, sy = view.cfg.start_point
    assert abs(sx - 0.5) < 0.05 and abs(sy - 2.0) < 0.05
    assert view.wait_computed(20)
    for p in view.paths():
        np.testing.assert_allclose(p.positions[0], [sx, sy])
    assert view.start_edit.text() == f"{sx:g}, {sy:g}"


def test_editing_racers_restarts_the_race(view, qtbot):
    view.table.selectRow(0)
    ed = view.editor.editors["optim.lr"]
    ed.widget.setText("0.0005")
    ed.widget.editingFinished.emit()
    assert view.cfg.racers[0].optim.lr == 0.0005
    assert view.wait_computed(20)
    # half the learning rate: SGD's first step is half as long
    step = np.hypot(*(view.paths()[0].positions[1] - view.paths()[0].positions[0]))
    g = np.hypot(*view.paths()[0].gradients[0])
    assert abs(step - 0.0005 * g) < 1e-12
    ed.widget.setText("-3")
    ed.widget.editingFinished.emit()
    assert ed.error and "optim.lr" in ed.error and view.cfg.racers[0].optim.lr == 0.0005
    n = len(view.cfg.racers)
    view.editor.add_combo.setCurrentText("adamw")
    assert view.editor.add_combo.currentText() == "adamw"
    add = next(b for b in view.editor.findChildren(QPushButton) if b.text() == "Add")
    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    assert len(view.cfg.racers) == n + 1 and view.cfg.racers[-1].label == "adamw"
    assert len(view.surface.paths) == n + 1 and view.table.rowCount() == n + 1
    view.table.selectRow(0)
    qtbot.mouseClick(view.editor.remove, Qt.MouseButton.LeftButton)
    assert [r.label for r in view.cfg.racers][0] == "momentum" and len(view.cfg.racers) == n


def test_diverging_racer_is_marked(view, qtbot):
    view.apply({"sgd.lr": 0.05})
    assert view.wait_computed(20)
    view.seek(2000)
    assert view.table.item(0, 4).text() == "diverged"
    assert view.contour.markers.data["symbol"][0] == "x" and view.contour.markers.data["symbol"][5] == "o"
    assert "diverged: sgd" in view.status.text()
    assert view.table.item(5, 4).text() == "finished"


def test_replays_a_saved_race(view, qtbot):
    cfg = make_config("himmelblau", ["momentum", "adam"], {"steps": 300, "sigma": 0.5})
    session = race_to_session(run_race(cfg))
    view.load_session(session)
    assert view.replay is not None and view.cfg.function == "himmelblau" and view.job is None
    assert view.table.rowCount() == 2
    view.transport.speed.setCurrentIndex(len(view.transport.SPEEDS) - 1)  # 200 steps per frame
    qtbot.waitUntil(lambda: view.cursor >= 300, timeout=15000)  # it plays to the end, then stops
    qtbot.wait(100)
    assert not view.playing
    x, y = view.contour.curves[1].getData()
    np.testing.assert_allclose([x[-1], y[-1]], session.arrays["playground/adam/positions"][-1])
    out = Session()
    view.save_into(out)
    np.testing.assert_array_equal(out.arrays["playground/adam/positions"], session.arrays["playground/adam/positions"])


def test_bad_start_and_function_change(view, qtbot):
    before = view.cfg
    view.start_edit.setText("9, 9")
    view.start_edit.editingFinished.emit()
    assert view.cfg == before and "outside the domain of rosenbrock" in view.status.text()
    assert "border" in view.start_edit.styleSheet()
    # a new function: its suggested start, learning rates and height scale; a new race
    view.settings["function"].widget.setCurrentText("saddle")
    assert view.cfg.function == "saddle" and view.cfg.start_point == (1.5, 1e-3)
    assert not view.log_height.isChecked()
    assert view.cfg.racers[0].optim.lr == 0.01 and view.cfg.racers[3].optim.lr == 0.1  # sgd, adagrad
    assert view.wait_computed(20)
    assert view.grid.fn.name == "saddle" and view.loss_plot.fmin is None  # no minimum: raw loss axis
    # restarting while a long race is being computed cancels it (on a function where no
    # racer diverges: on the saddle every racer stops early and the race ends by itself)
    view.settings["function"].widget.setCurrentText("quadratic")
    assert view.wait_computed(20)
    view.apply({"steps": 200_000})
    job, race = view.job, view.race
    view.apply({"steps": 100})
    assert not job.running and job.wait(2.0) and race.done < 200_000
    assert view.wait_computed(20) and view.available_steps() == 100


def test_series_plot_shows_step_sizes_velocity_and_lr(view, qtbot, screenshot_dir):
    view.seek(2000)
    view.series.setCurrentText("step size")
    paths = view.paths()
    x, y = view.loss_plot.curves[3].getData()  # adagrad: shrinking steps
    assert len(x) > 100 and y[-1] < y[0]
    ada = paths[3].step_sizes
    assert np.all(np.diff(ada[:, 0]) <= 0)  # Adagrad's accumulator only grows
    _, y2 = view.loss_plot.curves_y[3].getData()
    assert view.loss_plot.curves_y[3].isVisible() and len(y2) == len(y)
    view.series.setCurrentText("velocity")
    _, vs = view.loss_plot.curves[0].getData()  # plain SGD has no velocity
    assert np.all(np.isnan(vs))
    _, vm = view.loss_plot.curves[1].getData()
    assert np.all(np.isfinite(vm)) and not view.loss_plot.curves_y[1].isVisible()
    view.series.setCurrentText("learning rate")
    _, lr = view.loss_plot.curves[5].getData()
    np.testing.assert_allclose(10**lr, 0.02)  # getData is in log10 on a log axis
    view.grab().save(str(screenshot_dir / "playground_step_sizes.png"))
    view.series.setCurrentText("step size")
    view.grab().save(str(screenshot_dir / "playground_step_sizes.png"))


def test_main_window_saves_and_reopens_the_race(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from desktop.controller import AppController
    from desktop.main_window import MainWindow
    from engine.config import ExperimentConfig
    from engine.session import load_session

    configure_pyqtgraph()
    c = AppController(ExperimentConfig().with_updates({"train.epochs": 2, "data.n_samples": 200, "device": "cpu"}))
    w = MainWindow(c, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.show()
    try:
        assert w.show_tab("Playground")
        view = next(v for v in w.views if isinstance(v, PlaygroundView))
        assert view.wait_computed(20)
        view.apply({"function": "himmelblau", "steps": 400})
        assert view.wait_computed(20)
        assert w.save_session(str(tmp_path / "s.descent"))
        session = load_session(tmp_path / "s.descent")
        assert session.meta["playground"]["config"]["function"] == "himmelblau"
        assert session.arrays["playground/adam/positions"].shape == (401, 2)
        # opening it replays the race in the tab
        view.apply({"function": "rastrigin"})
        c.show_session(session, tmp_path / "s.descent")
        assert view.replay is not None and view.cfg.function == "himmelblau"
    finally:
        c.shutdown(2.0)
        view.shutdown()


def _rgb(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format_RGB32)
    w, h = img.width(), img.height()
    return np.frombuffer(img.constBits(), dtype=np.uint8, count=w * h * 4).reshape(h, w, 4)[:, :, :3].astype(int)


def test_cached_surface_layer_matches_a_full_render(view, qtbot):
    """The 3D surface is drawn once per camera into a framebuffer and blitted back: moving
    paths do not redraw it, a camera move does, and the pixels equal a full render."""
    from PySide6.QtOpenGLWidgets import QOpenGLWidget

    s = view.surface
    # no QOpenGLWidget in the tab: the window is not composed with OpenGL on every frame
    assert not view.findChildren(QOpenGLWidget)
    view.seek(300)
    qtbot.wait(50)
    before = s.static_renders
    frames = s.frames_rendered
    for k in (400, 500, 600):
        view.seek(k)
        s.repaint()
    assert s.frames_rendered >= frames + 3 and s.static_renders == before  # paths moved, surface not redrawn
    cached = _rgb(s.grabFramebuffer())
    s.set_static_items([])  # everything drawn every frame
    full = _rgb(s.grabFramebuffer())
    assert np.abs(cached - full).max() <= 2
    s.set_static_items([s.surface])
    s.orbit(25, 5)  # a new camera: the cache is redrawn
    s.repaint()
    assert s.static_renders == before + 1
    # every racer's path colour is in the frame after the camera move
    turned = s.grabFramebuffer()
    for r in view.cfg.racers:
        assert _colour_pixels(turned, r.color) > 10, r.label


def test_depth_tested_items_are_hidden_behind_the_cached_surface(view, qtbot):
    """The cache's depth is blitted with its colour: a depth-tested item under the surface
    stays hidden, one above it shows, exactly as in a full render."""
    import pyqtgraph.opengl as gl

    s = view.surface
    view.seek(0)
    corners = np.array([[-5, -5], [5, -5], [5, 5], [-5, 5], [-5, -5]], dtype=float)
    below = gl.GLLinePlotItem(pos=np.c_[corners * 0.6, np.full(5, -3.0)], color=(1, 0, 1, 1), width=6)  # magenta
    above = gl.GLLinePlotItem(pos=np.c_[corners * 0.3, np.full(5, 5.0)], color=(1, 0.5, 0, 1), width=6)  # orange
    for it in (below, above):
        it.setGLOptions("opaque")  # depth test on
        s.addItem(it)
    try:
        cached = s.grabFramebuffer()
        s.set_static_items([])
        full = s.grabFramebuffer()
        s.set_static_items([s.surface])
        for img in (cached, full):
            assert _colour_pixels(img, "#ff8000", tol=20) > 50
        # the square below the surface is seen only where it sticks out past the surface's edge
        assert abs(_colour_pixels(cached, "#ff00ff", tol=20) - _colour_pixels(full, "#ff00ff", tol=20)) <= 5
        s.surface.hide()  # a change to a static item redraws the cache
        bare = s.grabFramebuffer()
        s.surface.show()
        assert _colour_pixels(full, "#ff00ff", tol=20) < 0.5 * _colour_pixels(bare, "#ff00ff", tol=20)
        assert _colour_pixels(s.grabFramebuffer(), "#ff00ff", tol=20) == _colour_pixels(cached, "#ff00ff", tol=20)
    finally:
        s.removeItem(below)
        s.removeItem(above)


def test_schedule_editor_shows_every_parameter_of_the_chosen_schedule(view, qtbot, screenshot_dir):
    from engine.config import SCHEDULES
    from engine.playground.config import schedule_fields

    view.table.selectRow(5)  # adam
    ed = view.editor
    assert ed.label == "adam"

    def shown() -> set[str]:
        return {k for k in ed.visible_fields() if k.startswith("schedule.")}

    assert shown() == {"schedule.name"}
    for name in SCHEDULES:
        ed.editors["schedule.name"].widget.setCurrentText(name)
        assert view.cfg.racers[5].schedule.name == name
        assert view.wait_computed(20)
        assert shown() == {"schedule.name"} | {f"schedule.{f}" for f in schedule_fields(view.cfg.racers[5].schedule)}, (
            name
        )
    ed.editors["schedule.name"].widget.setCurrentText("cyclic")
    assert shown() == {
        "schedule.name",
        "schedule.cyclic_mode",
        "schedule.cyclic_base_lr",
        "schedule.cyclic_max_lr",
        "schedule.cyclic_step_size",
    }
    ed.editors["schedule.cyclic_mode"].widget.setCurrentText("exp_range")  # its decay factor appears
    assert "schedule.cyclic_gamma" in shown() and view.cfg.racers[5].schedule.cyclic_mode == "exp_range"
    step = ed.editors["schedule.cyclic_step_size"].widget
    assert "steps in the increasing half of a cycle" in step.toolTip() and "allowed: [1, 1000000]" in step.toolTip()
    top = ed.editors["schedule.cyclic_max_lr"]
    top.widget.setText("0.05")
    top.widget.editingFinished.emit()
    assert top.error is None and view.cfg.racers[5].schedule.cyclic_max_lr == 0.05
    assert view.wait_computed(20)
    lrs = view.paths()[5].lrs
    assert lrs.max() <= 0.05 + 1e-12 and lrs.max() > 0.01  # the cyclic lr now peaks at 0.05
    top.widget.setText("20")
    top.widget.editingFinished.emit()
    assert top.error == "adam.schedule.cyclic_max_lr: Input should be less than or equal to 10 (allowed: (0, 10])"
    assert view.cfg.racers[5].schedule.cyclic_max_lr == 0.05 and "allowed: (0, 10]" in view.status.text()
    view.grab().save(str(screenshot_dir / "playground_schedule_editor.png"))


def test_a_failing_gl_render_is_shown_as_a_message_not_a_crash(qtbot, monkeypatch):
    from PySide6.QtGui import QImage

    from desktop.gl_offscreen import OffscreenGLView

    v = OffscreenGLView()
    qtbot.addWidget(v)
    v.resize(300, 200)

    def broken():
        raise RuntimeError("glDrawArrays failed")

    monkeypatch.setattr(v, "render_frame", broken)
    v.show()
    qtbot.waitExposed(v)
    img = v.grab().toImage()  # paints without raising
    assert "glDrawArrays failed" in v.error_text and isinstance(img, QImage) and not img.isNull()
