"""Per-layer settings in the GUI: the panel's list fields, the data.path browse button, and the
Batch norm tab when only some hidden layers have batch norm."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLineEdit

from desktop.controller import AppController
from desktop.panels.hyperparams import INVALID_STYLE, HyperparameterPanel
from engine.config import ExperimentConfig
from engine.session import record_of

pytestmark = pytest.mark.gui


@pytest.fixture
def panel(qtbot):
    c = AppController(ExperimentConfig().with_updates({"device": "cpu"}))
    p = HyperparameterPanel(c)
    qtbot.addWidget(p)
    p.resize(420, 900)
    p.show()
    qtbot.waitExposed(p)
    yield p
    c.shutdown(2.0)


def _type(panel: HyperparameterPanel, key: str, text: str):
    ed = panel.editor(key)
    assert isinstance(ed.widget, QLineEdit)
    ed.widget.setText(text)
    ed.widget.editingFinished.emit()
    return ed


def test_dropout_layers_edited_in_the_panel(panel):
    ed = _type(panel, "model.dropout_layers", "0.5, 0")
    assert ed.error is None and ed.widget.styleSheet() == ""
    assert panel.controller.config.model.dropout_layers == [0.5, 0.0]
    assert panel.controller.config.model.dropout_per_layer() == [0.5, 0.0]
    ed = _type(panel, "model.batch_norm_layers", "before, off")
    assert ed.error is None and panel.controller.config.model.batch_norm_layers == ["before", "off"]


@pytest.mark.parametrize(
    "text,needles",
    [
        ("0.5", ["model.dropout_layers", "expected 2 values", "got 1 (0.5)"]),
        ("0.5, abc", ["model.dropout_layers", "cannot read"]),
        ("1.5, 0", ["model.dropout_layers", "entry 1 (1.5)", "[0, 1)"]),
        ("0.5,,0", ["cannot read"]),
    ],
)
def test_bad_dropout_list_is_marked_at_the_field_and_not_applied(panel, text, needles):
    ed = _type(panel, "model.dropout_layers", text)
    assert ed.error, text
    for n in needles:
        assert n in ed.error, (n, ed.error)
    assert ed.widget.styleSheet() == INVALID_STYLE and ed.error in ed.widget.toolTip()
    assert panel.controller.config.model.dropout_layers == []  # nothing applied
    ed = _type(panel, "model.dropout_layers", "0.2, 0.1")  # correcting it clears the mark
    assert ed.error is None and ed.widget.styleSheet() == ""
    assert panel.controller.config.model.dropout_layers == [0.2, 0.1]


def test_bad_batch_norm_list_and_depth_change_are_marked(panel):
    ed = _type(panel, "model.batch_norm_layers", "before, middle")
    assert ed.error and "'middle' is not one of off|before|after" in ed.error
    assert panel.controller.config.model.batch_norm_layers == []
    _type(panel, "model.batch_norm_layers", "before, after")
    ed = _type(panel, "model.hidden", "16, 16, 16")  # the lists no longer match the depth
    assert ed.error and "model.batch_norm_layers: expected 3 values" in ed.error
    assert panel.controller.config.model.hidden == [32, 32]


def test_panel_shows_a_loaded_per_layer_config(panel):
    cfg = panel.controller.config.with_updates(
        {"model.dropout_layers": [0.25, 0.0], "model.batch_norm_layers": ["after", "off"]}
    )
    panel.controller.set_config(cfg)
    assert panel.editor("model.dropout_layers").widget.text() == "0.25, 0.0"
    assert panel.editor("model.batch_norm_layers").widget.text() == "after, off"
    # the text shown reads back as the same value: leaving the field changes nothing
    _type(panel, "model.dropout_layers", panel.editor("model.dropout_layers").widget.text())
    assert panel.controller.config == cfg


def _fake_dialogs(monkeypatch, file_result: str = "", folder_result: str = "") -> list[tuple]:
    calls: list[tuple] = []

    def open_file(parent, caption="", directory="", filter="", *a, **k):
        calls.append(("file", caption, directory, filter))
        return file_result, ""

    def open_folder(parent, caption="", directory="", *a, **k):
        calls.append(("folder", caption, directory))
        return folder_result

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(open_file))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(open_folder))
    return calls


def test_path_browse_opens_a_csv_file_dialog(panel, qtbot, monkeypatch, tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("a,label\n1,0\n")
    panel.controller.set_field("data.name", "csv")
    calls = _fake_dialogs(monkeypatch, file_result=str(target))
    ed = panel.editor("data.path")
    assert ed.browse_button is not None and ed.browse_button.isVisible()
    qtbot.mouseClick(ed.browse_button, Qt.LeftButton)
    assert calls and calls[0][0] == "file" and "*.csv" in calls[0][3] and "*.npz" not in calls[0][3]
    assert panel.controller.config.data.path == str(target) and ed.widget.text() == str(target)
    assert ed.error is None


def test_path_browse_opens_a_folder_dialog_for_image_folders(panel, qtbot, monkeypatch, tmp_path):
    panel.controller.set_field("data.name", "image_folder")
    calls = _fake_dialogs(monkeypatch, folder_result=str(tmp_path))
    qtbot.mouseClick(panel.editor("data.path").browse_button, Qt.LeftButton)
    assert [c[0] for c in calls] == ["folder"]
    assert panel.controller.config.data.path == str(tmp_path)


def test_path_browse_from_a_builtin_set_switches_to_the_files_format(panel, qtbot, monkeypatch, tmp_path):
    assert panel.controller.config.data.name == "spiral"
    calls = _fake_dialogs(monkeypatch, file_result=str(tmp_path / "d.npz"))
    qtbot.mouseClick(panel.editor("data.path").browse_button, Qt.LeftButton)
    assert "*.npz" in calls[0][3] and "*.csv" in calls[0][3]
    cfg = panel.controller.config
    assert (cfg.data.name, cfg.data.path) == ("npz", str(tmp_path / "d.npz"))
    assert panel.editor("data.name").widget.currentText() == "npz"


def test_path_browse_cancelled_changes_nothing(panel, qtbot, monkeypatch):
    before = panel.controller.config
    _fake_dialogs(monkeypatch)
    qtbot.mouseClick(panel.editor("data.path").browse_button, Qt.LeftButton)
    assert panel.controller.config == before


def test_browsed_path_goes_through_validation(panel, qtbot, monkeypatch):
    panel.controller.set_field("data.name", "csv")
    _fake_dialogs(monkeypatch, file_result="/x" * 3000)  # longer than the 4096 allowed
    ed = panel.editor("data.path")
    qtbot.mouseClick(ed.browse_button, Qt.LeftButton)
    assert ed.error and "data.path" in ed.error and ed.widget.styleSheet() == INVALID_STYLE
    assert panel.controller.config.data.path == ""


def test_model_section_screenshot(panel, qtbot, screenshot_dir):
    assert panel.editor("model.dropout_layers").widget.placeholderText() == "empty = model.dropout in every layer"
    panel.controller.set_config(panel.controller.config.with_updates({"model.dropout_layers": [0.5, 0.0]}))
    _type(panel, "model.batch_norm_layers", "before, middle")  # one field shown invalid
    panel.search.setText("layers")  # the rows this feature adds
    qtbot.wait(50)
    img = panel.grab().toImage()
    img.save(str(screenshot_dir / "panel_per_layer_fields.png"))
    panel.search.setText("")
    qtbot.wait(50)
    panel.grab().toImage().save(str(screenshot_dir / "panel_model_section.png"))
    assert img.width() > 100 and img.height() > 100


def test_batchnorm_view_names_the_layers_that_have_batch_norm(qtbot, screenshot_dir):
    import numpy as np

    from desktop.plotting import configure_pyqtgraph
    from desktop.views.batchnorm_view import BatchNormView
    from engine.batchnorm.probe import BatchNormProbe
    from engine.session import Session
    from engine.train import Trainer

    configure_pyqtgraph()
    cfg = ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "data.name": "digits",
            "model.hidden": [32, 16, 16],
            "model.batch_norm_layers": "before,off,after",
            "train.batch_size": 16,
            "train.epochs": 2,
            "train.val_fraction": 0.5,
        }
    )
    events: list = []
    t = Trainer(cfg, emit=events.append, run_id="bn-per-layer", hooks=[BatchNormProbe(every=2)])
    c = AppController(cfg)
    v = BatchNormView(c)
    qtbot.addWidget(v)
    v.resize(1000, 620)
    v.show()
    qtbot.waitExposed(v)
    v.on_run_started("bn-per-layer", cfg)
    assert "per hidden layer: before, off, after" in v.info.text()
    t.run()
    for i in range(0, len(events), 50):
        v.handle_events(events[i : i + 50])
    labels = [v.layer.itemText(i) for i in range(v.layer.count())]
    assert labels == [
        "hidden layer 1, before the activation (32 units)",
        "hidden layer 3, after the activation (16 units)",
    ]
    v.layer.setCurrentIndex(1)
    xs, ys = v.c_bmean.getData()
    assert len(xs) > 10 and np.isfinite(ys).all()
    assert len(v.c_acc_batch.getData()[0]) == 2
    qtbot.wait(100)
    v.grab().save(str(screenshot_dir / "batchnorm_view_per_layer.png"))
    w = BatchNormView(c)  # a session shows the same layer names
    qtbot.addWidget(w)
    w.load_session(Session(runs=[record_of(t, "bn-per-layer")]))
    assert [w.layer.itemText(i) for i in range(w.layer.count())] == labels
    off = BatchNormView(c)
    qtbot.addWidget(off)
    off.on_run_started("r", cfg.with_updates({"model.batch_norm_layers": "off,off,off"}))
    assert "Batch norm is off" in off.info.text() and "model.batch_norm_layers" in off.info.text()
