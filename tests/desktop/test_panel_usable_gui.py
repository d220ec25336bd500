"""The hyperparameter panel a new user can read: human labels, only the fields that apply,
Advanced folded, search by section and help, the wheel scrolling the panel, restarts
refused while a field shows a refused value, and edits that wait for a restart marked."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QSpinBox

from desktop.controller import AppController
from desktop.panels.hyperparams import HyperparameterPanel
from engine.config import ExperimentConfig

pytestmark = pytest.mark.gui


@pytest.fixture
def panel(qtbot):
    c = AppController(ExperimentConfig().with_updates({"device": "cpu"}))
    p = HyperparameterPanel(c)
    qtbot.addWidget(p)
    p.resize(380, 700)
    p.show()
    qtbot.waitExposed(p)
    yield p
    c.shutdown(2.0)


def _choose(panel: HyperparameterPanel, key: str, value: str) -> None:
    panel.editor(key).widget.setCurrentText(value)  # as a user picking it: goes through the commit


def _shown(panel: HyperparameterPanel, section: str) -> list[str]:
    return [k for k in panel.visible_keys() if k.startswith(section + ".")]


def test_labels_are_human_and_the_tooltip_names_the_key(panel):
    _form, label = panel.rows["optim.lr"]
    assert label.text().startswith("Learning rate")
    assert panel.rows["optim.weight_decay"][1].text().startswith("Weight decay")
    assert "optim.lr" in label.toolTip() and "optim.lr" in panel.editor("optim.lr").widget.toolTip()
    assert not any("_" in panel.rows[k][1].text() for k in panel.rows)


def test_adam_shows_its_fields_only_and_sgd_with_step_schedule_its_own(panel, qtbot, screenshot_dir):
    assert _shown(panel, "optim") == ["optim.name", "optim.lr", "optim.betas", "optim.weight_decay"]
    assert _shown(panel, "schedule") == ["schedule.name"]  # constant: no schedule parameters
    panel.grab().save(str(screenshot_dir / "panel_adam.png"))
    _choose(panel, "optim.name", "sgd")
    _choose(panel, "schedule.name", "step")
    assert panel.controller.config.optim.name == "sgd"
    assert _shown(panel, "optim") == ["optim.name", "optim.lr", "optim.weight_decay"]
    assert _shown(panel, "schedule") == ["schedule.name", "schedule.step_size", "schedule.gamma"]
    qtbot.wait(50)
    panel.grab().save(str(screenshot_dir / "panel_sgd_step.png"))
    _choose(panel, "data.name", "digits")
    assert _shown(panel, "data") == ["data.name", "data.preprocess"]  # noise, samples, classes do not apply


def test_batch_norm_and_advanced_fields(panel, qtbot):
    toggle, box, _ = panel.advanced["model"]
    assert not toggle.isChecked() and not box.isVisibleTo(panel)  # Advanced starts folded
    assert "model.dropout_layers" not in panel.visible_keys()
    toggle.click()
    assert "model.dropout_layers" in panel.visible_keys()
    assert "model.bn_momentum" not in panel.visible_keys()  # batch norm is off
    _choose(panel, "model.batch_norm", "before")
    assert "model.bn_momentum" in panel.visible_keys()


def test_search_matches_section_titles_and_help_text(panel):
    panel.search.setText("regular")  # the Regularization section's title
    assert {"reg.l1", "reg.l2", "reg.early_stopping"} <= set(panel.visible_keys())
    assert panel.sections["reg"][0].isVisibleTo(panel)
    panel.search.setText("numerical stability")  # only in the help text of optim.eps
    assert panel.visible_keys() == ["optim.eps"]
    panel.search.setText("momentum")  # not used by Adam: shown greyed, saying when it applies
    _form, label = panel.rows["optim.momentum"]
    assert label.isVisibleTo(panel) and not label.isEnabled()
    assert "momentum|nesterov" in label.toolTip()
    panel.search.setText("")
    assert "optim.momentum" not in panel.visible_keys()
    _choose(panel, "optim.name", "momentum")  # now it applies: shown, enabled, no "not used" note
    assert "optim.momentum" in panel.visible_keys() and label.isEnabled() and "not used" not in label.toolTip()


def test_wheel_over_an_unfocused_field_scrolls_the_panel(panel, qtbot):
    bar = panel.scroll.verticalScrollBar()
    assert bar.maximum() > 0
    spin = panel.editor("data.n_samples").widget
    assert isinstance(spin, QSpinBox) and not spin.hasFocus()
    before = spin.value()
    pos = QPointF(spin.width() / 2, spin.height() / 2)
    event = QWheelEvent(
        pos,
        QPointF(spin.mapToGlobal(QPoint(int(pos.x()), int(pos.y())))),
        QPoint(0, 0),
        QPoint(0, -360),
        Qt.NoButton,
        Qt.NoModifier,
        Qt.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(spin, event)
    assert spin.value() == before and panel.controller.config.data.n_samples == before
    assert bar.value() > 0


def test_refused_text_blocks_the_restart_and_names_the_field(panel):
    c = panel.controller
    notices = []
    c.notice.connect(lambda m, level: notices.append((m, level)))
    ed = panel.editor("optim.lr")
    ed.widget.setText("abc")  # typed, not confirmed: Ctrl+R pressed straight away
    assert c.restart() is False
    assert c.worker is None  # nothing restarted with the old value
    assert notices and "Learning rate (optim.lr)" in notices[-1][0] and notices[-1][1] == "error"
    assert ed.error and ed.widget.text() == "abc"
    ed.widget.setText("-1")
    ed.widget.editingFinished.emit()
    assert c.restart() is False and c.worker is None and c.config.optim.lr == 0.01


def test_edits_waiting_for_a_restart_are_marked_pending(panel):
    c = panel.controller
    c.run_started.emit("run1", c.config)  # the config now in force
    _choose(panel, "model.activation", "tanh")
    _form, label = panel.rows["model.activation"]
    assert label.text().startswith("•") and "pending" in label.toolTip() and "relu" in label.toolTip()
    assert panel.pending_keys() == ["model.activation"]
    assert panel.restart_button.isVisibleTo(panel) and "Activation" in panel.restart_button.text()
    c.run_started.emit("run2", c.config)  # restarted with it
    assert not label.text().startswith("•") and panel.pending_keys() == []


def test_a_config_set_from_a_view_stays_pending_while_a_run_is_in_force(panel):
    c = panel.controller
    c.run_started.emit("run1", c.config)
    c.worker = object()  # a run is in force (only its presence matters here)
    try:
        c.set_field("data.name", "moons")
        c.set_config(c.config)  # as the Data view does after opening a file
        assert panel.pending_keys() == ["data.name"]
    finally:
        c.worker = None
