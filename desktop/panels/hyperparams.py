"""The hyperparameter panel, generated from the config schema (engine.config.field_specs).

One editor per field, grouped by section, with the field's help text and allowed range
as tooltip. Invalid input is marked at the field with the message; nothing is applied
until it is valid. Live fields (lr, momentum, weight decay) apply to the running
optimizer at once; the others wait for a restart, which the panel says.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.config import LIVE_KEYS, ExperimentConfig, FieldSpec, field_specs

SECTION_TITLES = {
    "": "Run",
    "data": "Data",
    "model": "Model",
    "optim": "Optimizer",
    "schedule": "Schedule",
    "train": "Training",
    "reg": "Regularization",
    "augment": "Augmentation (image data)",
    "probes": "Probes (histograms, statistics)",
    "diagnostics": "Diagnostics",
    "metrics": "Metrics",
    "landscape": "Loss landscape",
}
# Sections shown open at start; the others start folded (click the title to open).
OPEN_SECTIONS = ("", "data", "model", "optim", "schedule", "train")
INVALID_STYLE = "border: 2px solid #D55E00; background: #fff0ea;"


def _text_of(spec: FieldSpec, value: Any) -> str:
    if spec.is_list:  # repr: the shortest text that reads back as the same float
        return ", ".join(repr(v) if isinstance(v, float) else str(v) for v in value)
    if spec.kind == "float":
        return f"{value:g}"
    return str(value)


class FieldEditor:
    """Wraps the widget of one field: read/write its value, mark it invalid. `widget` is the
    editor itself; `row_widget` is what goes in the form (the editor plus, for a path field
    given a `browse` callback, a "…" button that asks for a file or folder)."""

    def __init__(
        self,
        spec: FieldSpec,
        on_commit: Callable[[str, Any], str | None],
        browse: Callable[[FieldSpec], str | None] | None = None,
    ) -> None:
        self.spec = spec
        self.on_commit = on_commit
        self._updating = False
        tip = f"<b>{spec.key}</b><br>{spec.help}<br><i>allowed: {spec.range_text()}</i>"
        if spec.key in LIVE_KEYS:
            tip += "<br>applies live to the running optimizer"
        if spec.kind == "bool":
            w: QWidget = QCheckBox()
            w.toggled.connect(lambda v: self._commit(bool(v)))
        elif spec.kind == "choice":
            w = QComboBox()
            w.addItems(list(spec.choices))
            w.currentTextChanged.connect(lambda t: self._commit(t))
        elif (
            spec.kind == "int"
            and spec.minimum is not None
            and spec.maximum is not None
            and spec.maximum - spec.minimum <= 10_000_000
        ):
            w = QSpinBox()
            w.setRange(int(spec.minimum), int(spec.maximum))
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v: self._commit(int(v)))
        else:
            w = QLineEdit()
            w.editingFinished.connect(lambda: self._commit(w.text()))
            if spec.placeholder:
                w.setPlaceholderText(spec.placeholder)
        w.setToolTip(tip)
        w.setObjectName(f"field:{spec.key}")
        self.widget = w
        self.base_tip = tip
        self.row_widget: QWidget = w
        self.browse_button: QToolButton | None = None
        if spec.widget == "path" and browse is not None and isinstance(w, QLineEdit):
            row = QWidget()
            lay = QHBoxLayout(row)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(2)
            btn = QToolButton()
            btn.setText("…")
            btn.setObjectName(f"browse:{spec.key}")
            btn.setToolTip("Choose the file (csv, npz) or the folder (image_folder) for the current data.name")
            btn.clicked.connect(lambda: self._on_browse_clicked(browse))
            lay.addWidget(w, 1)
            lay.addWidget(btn)
            self.row_widget, self.browse_button = row, btn

    def set_value(self, value: Any) -> None:
        self._updating = True
        try:
            w = self.widget
            if isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                w.setCurrentText(str(value))
            elif isinstance(w, QSpinBox):
                w.setValue(int(value))
            else:
                w.setText(_text_of(self.spec, value))
            self.mark(None)
        finally:
            self._updating = False

    def mark(self, error: str | None) -> None:
        self.widget.setStyleSheet(INVALID_STYLE if error else "")
        self.widget.setToolTip(self.base_tip + (f"<br><span style='color:#D55E00'>{error}</span>" if error else ""))
        self.error = error

    def _commit(self, value: Any) -> None:
        if self._updating:
            return
        self.mark(self.on_commit(self.spec.key, value))

    def _on_browse_clicked(self, browse: Callable[[FieldSpec], str | None]) -> None:
        """Ask for a path; a chosen one goes through the normal validation like typed text."""
        path = browse(self.spec)
        if path:
            self.widget.setText(path)
            self._commit(path)


class HyperparameterPanel(QWidget):
    """Every config field, grouped by section, with validation at the field."""

    field_committed = Signal(str, object)  # key, value (after validation)

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.editors: dict[str, FieldEditor] = {}
        self._committing = ""  # the key the panel itself is setting
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("panelStatus")
        inner = QWidget()
        inner_lay = QVBoxLayout(inner)
        inner_lay.setContentsMargins(2, 2, 2, 2)
        self.sections: dict[str, tuple[QToolButton, QWidget, QFormLayout]] = {}
        self.rows: dict[str, tuple[QFormLayout, QLabel]] = {}
        for spec in field_specs():
            if spec.section not in self.sections:
                self.sections[spec.section] = self._make_section(spec.section, inner_lay)
            form = self.sections[spec.section][2]
            ed = FieldEditor(spec, self._on_field_commit, browse=self._browse_path)
            name = spec.key.split(".")[-1] + (" ⚡" if spec.key in LIVE_KEYS else "")
            label = QLabel(name)
            label.setToolTip(ed.base_tip)
            form.addRow(label, ed.row_widget)
            self.editors[spec.key] = ed
            self.rows[spec.key] = (form, label)
        inner_lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.scroll = scroll
        self.restart_button = QToolButton()
        self.restart_button.setText("Restart with these settings (Ctrl+R)")
        self.restart_button.clicked.connect(lambda: controller.restart())
        self.restart_button.setVisible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        hint = QLabel("⚡ = applies live; other changes apply on restart. Hover a field for its range.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555; font-size: 9pt;")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find a setting (name or help text)…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search_changed)
        lay.addWidget(hint)
        lay.addWidget(self.search)
        lay.addWidget(self.status)
        lay.addWidget(self.restart_button)
        lay.addWidget(scroll, 1)
        self.set_config(controller.config)
        controller.config_changed.connect(self.set_config)
        controller.pending_restart.connect(self._on_controller_pending_restart)
        controller.field_edited.connect(self._on_controller_field_edited)

    def _make_section(self, section: str, parent_layout: QVBoxLayout) -> tuple[QToolButton, QWidget, QFormLayout]:
        """A foldable group: a title button with an arrow above a form."""
        header = QToolButton()
        header.setText(SECTION_TITLES.get(section, section.capitalize()))
        header.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        header.setCheckable(True)
        header.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        body = QWidget()
        form = QFormLayout(body)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignRight)
        form.setContentsMargins(6, 0, 6, 4)
        form.setVerticalSpacing(3)

        def fold(open_: bool) -> None:
            header.setArrowType(Qt.DownArrow if open_ else Qt.RightArrow)
            body.setVisible(open_)

        header.toggled.connect(fold)
        header.setChecked(section in OPEN_SECTIONS)
        fold(section in OPEN_SECTIONS)
        parent_layout.addWidget(header)
        parent_layout.addWidget(body)
        return header, body, form

    def _on_search_changed(self, text: str) -> None:
        """Show only the fields whose key or help matches; open the sections that hold them."""
        needle = text.strip().lower()
        hits: dict[str, int] = {}
        for key, (form, label) in self.rows.items():
            spec = self.editors[key].spec
            match = not needle or needle in key.lower() or needle in spec.help.lower()
            form.setRowVisible(label, match)
            hits[spec.section] = hits.get(spec.section, 0) + int(match)
        for section, (header, body, _form) in self.sections.items():
            header.setVisible(not needle or hits.get(section, 0) > 0)
            if needle:
                body.setVisible(hits.get(section, 0) > 0)
            else:
                body.setVisible(header.isChecked())

    def set_config(self, config: ExperimentConfig) -> None:
        for key, ed in self.editors.items():
            ed.set_value(config.get(key))
        self.status.setText("")

    def editor(self, key: str) -> FieldEditor:
        return self.editors[key]

    def _on_field_commit(self, key: str, value: Any) -> str | None:
        self._committing = key
        try:
            error = self.controller.set_field(key, value)
        finally:
            self._committing = ""
        if error:
            self.status.setText(f"<span style='color:#D55E00'>{error}</span>")
        else:
            self.status.setText("")
            self.field_committed.emit(key, self.controller.config.get(key))
        return error

    def _browse_path(self, spec: FieldSpec) -> str | None:
        """A file dialog (csv, npz) or a folder dialog (image_folder), chosen by data.name. For
        the built-in sets, a CSV/NPZ file may be chosen and data.name follows its suffix."""
        data = self.controller.config.data
        current = data.path.strip()
        start = str(Path(current).expanduser()) if current else str(Path.home())
        if data.name == "image_folder":
            return (
                QFileDialog.getExistingDirectory(self, "Choose an image folder (one subfolder per class)", start)
                or None
            )
        filters = {
            "csv": "CSV files (*.csv *.tsv *.txt);;All files (*)",
            "npz": "NumPy archives (*.npz);;All files (*)",
        }.get(data.name, "Data files (*.csv *.tsv *.txt *.npz);;All files (*)")
        path, _ = QFileDialog.getOpenFileName(self, f"Choose the data file ({data.name})", start, filters)
        if not path:
            return None
        if data.name not in ("csv", "npz"):  # a built-in set: switch to the file's format
            name = "npz" if path.lower().endswith(".npz") else "csv"
            error = self.controller.set_field("data.name", name)
            if error:
                self.status.setText(f"<span style='color:#D55E00'>{error}</span>")
                return None
            self.editors["data.name"].set_value(name)
            self.field_committed.emit("data.name", name)
        return path

    def _on_controller_field_edited(self, key: str) -> None:
        """A field set from elsewhere (a suggested lr): show its value, highlighted a moment."""
        ed = self.editors.get(key)
        if ed is None or self._committing == key:
            return
        ed.set_value(self.controller.config.get(key))
        section = self.sections.get(ed.spec.section)
        if section is not None and not section[0].isChecked():
            section[0].setChecked(True)
        self.scroll.ensureWidgetVisible(ed.row_widget)
        ed.widget.setStyleSheet("background: #FFE9A8;")
        QTimer.singleShot(2500, ed.widget, lambda: ed.widget.setStyleSheet(""))

    def _on_controller_pending_restart(self, pending: bool) -> None:
        self.restart_button.setVisible(pending)
