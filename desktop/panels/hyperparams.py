"""The hyperparameter panel, generated from the config schema (engine.config.field_specs).

One editor per field, grouped by section, labelled and shown by engine.config_fields
(human labels, the fields that apply to the current config, less-used ones under each
section's folded "Advanced"), with the dotted key, help text and allowed range as tooltip.
Invalid input is marked at the field with the message; nothing is applied until it is
valid, and a restart is refused while a field shows a refused value. Live fields (lr,
momentum, weight decay) apply to the running optimizer at once; the others wait for a
restart and are marked pending until then.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
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
from engine.config_fields import applies, display_of
from engine.states import RunState

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
        tip = (
            f"<b>{display_of(spec.key).label}</b> <code>{spec.key}</code><br>{spec.help}"
            f"<br><i>allowed: {spec.range_text()}</i>"
        )
        if spec.key in LIVE_KEYS:
            tip += "<br>applies live to the running optimizer"
        if spec.kind == "bool":
            w: QWidget = QCheckBox()
            w.toggled.connect(lambda v: self.commit(bool(v)))
        elif spec.kind == "choice":
            w = QComboBox()
            w.addItems(list(spec.choices))
            w.currentTextChanged.connect(lambda t: self.commit(t))
        elif (
            spec.kind == "int"
            and spec.minimum is not None
            and spec.maximum is not None
            and spec.maximum - spec.minimum <= 10_000_000
        ):
            w = QSpinBox()
            w.setRange(int(spec.minimum), int(spec.maximum))
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v: self.commit(int(v)))
        else:
            w = QLineEdit()
            w.editingFinished.connect(lambda: self.commit(w.text()))
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

    def commit(self, value: Any) -> None:
        """Validate and apply a value as if the user entered it; the field shows the result."""
        if self._updating:
            return
        self.mark(self.on_commit(self.spec.key, value))

    def _on_browse_clicked(self, browse: Callable[[FieldSpec], str | None]) -> None:
        """Ask for a path; a chosen one goes through the normal validation like typed text."""
        path = browse(self.spec)
        if path:
            self.widget.setText(path)
            self.commit(path)


class _WheelToScroll(QObject):
    """The mouse wheel over an editor without focus scrolls the panel instead of changing the
    value (spin boxes and combo boxes take the wheel under the pointer otherwise)."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.scroll: QScrollArea | None = None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            if self.scroll is not None:
                QApplication.sendEvent(self.scroll.viewport(), event)
            return True
        return False


class HyperparameterPanel(QWidget):
    """The config fields that apply to the current config, grouped by section (less-used ones
    under each section's folded "Advanced"), with validation at the field, a search, and the
    edits that wait for a restart marked as pending."""

    field_committed = Signal(str, object)  # key, value (after validation)

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.editors: dict[str, FieldEditor] = {}
        self._committing = ""  # the key the panel itself is setting
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("panelStatus")
        self.applied: ExperimentConfig | None = None  # the config in force in the run (None: no run)
        self._wheel_guard = _WheelToScroll(self)
        inner = QWidget()
        inner_lay = QVBoxLayout(inner)
        inner_lay.setContentsMargins(2, 2, 2, 2)
        self.sections: dict[str, tuple[QToolButton, QWidget, QFormLayout]] = {}
        self.advanced: dict[str, tuple[QToolButton, QWidget, QFormLayout]] = {}
        self.rows: dict[str, tuple[QFormLayout, QLabel]] = {}
        self.labels: dict[str, str] = {}
        for spec in field_specs():
            if spec.section not in self.sections:
                self.sections[spec.section] = self._make_section(spec.section, inner_lay)
            shown = display_of(spec.key)
            form = self._advanced_form(spec.section) if shown.advanced else self.sections[spec.section][2]
            ed = FieldEditor(spec, self._on_field_commit, browse=self._browse_path)
            ed.widget.setFocusPolicy(Qt.StrongFocus)  # the wheel alone never focuses a field
            ed.widget.installEventFilter(self._wheel_guard)
            label = QLabel(shown.label + (" ⚡" if spec.key in LIVE_KEYS else ""))
            label.setObjectName(f"label:{spec.key}")
            label.setToolTip(ed.base_tip)
            label.setBuddy(ed.widget)
            form.addRow(label, ed.row_widget)
            self.editors[spec.key] = ed
            self.rows[spec.key] = (form, label)
            self.labels[spec.key] = shown.label
        inner_lay.addStretch(1)
        self.scroll = scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self._wheel_guard.scroll = scroll
        self.restart_button = QToolButton()
        self.restart_button.setText("Restart with these settings (Ctrl+R)")
        self.restart_button.clicked.connect(lambda: controller.restart())
        self.restart_button.setVisible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        hint = QLabel(
            "⚡ = applies live; other changes apply on restart (• pending). "
            "Hover a field for its key and range; only the settings that apply are shown."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555; font-size: 9pt;")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find a setting (name, section or help text)…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._refresh_rows())
        lay.addWidget(hint)
        lay.addWidget(self.search)
        lay.addWidget(self.status)
        lay.addWidget(self.restart_button)
        lay.addWidget(scroll, 1)
        self.set_config(controller.config)
        controller.config_changed.connect(self.set_config)
        controller.config_changed.connect(self._on_controller_config_changed)
        controller.pending_restart.connect(self._on_controller_pending_restart)
        controller.run_started.connect(self._on_controller_run_started)
        controller.field_edited.connect(lambda _key: self._refresh_rows())
        controller.field_edited.connect(self._on_controller_field_edited)
        checks = getattr(controller, "restart_checks", None)
        if checks is not None:
            checks.append(self.restart_problem)

    def _make_section(self, section: str, parent_layout: QVBoxLayout) -> tuple[QToolButton, QWidget, QFormLayout]:
        """A foldable group: a title button with an arrow above a form."""
        header = QToolButton()
        header.setText(SECTION_TITLES.get(section, section.capitalize()))
        header.setObjectName(f"section:{section}")
        header.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        header.setCheckable(True)
        header.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        body = QWidget()
        body_lay = QVBoxLayout(body)
        body_lay.setContentsMargins(0, 0, 0, 0)
        body_lay.setSpacing(0)
        form = _make_form()
        body_lay.addLayout(form)

        def fold(open_: bool) -> None:
            header.setArrowType(Qt.DownArrow if open_ else Qt.RightArrow)
            self._refresh_rows()

        header.toggled.connect(fold)
        header.setChecked(section in OPEN_SECTIONS)
        header.setArrowType(Qt.DownArrow if section in OPEN_SECTIONS else Qt.RightArrow)
        body.setVisible(section in OPEN_SECTIONS)
        parent_layout.addWidget(header)
        parent_layout.addWidget(body)
        return header, body, form

    def _advanced_form(self, section: str) -> QFormLayout:
        """The section's folded "Advanced" group (made on its first advanced field)."""
        if section not in self.advanced:
            body_lay = self.sections[section][1].layout()
            assert isinstance(body_lay, QVBoxLayout)
            toggle = QToolButton()
            toggle.setText("Advanced")
            toggle.setObjectName(f"advanced:{section}")
            toggle.setCheckable(True)
            toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
            toggle.setArrowType(Qt.RightArrow)
            toggle.setStyleSheet("QToolButton { border: none; color: #555; }")
            box = QWidget()
            form = _make_form()
            form.setContentsMargins(14, 0, 6, 4)
            box.setLayout(form)
            box.setVisible(False)

            def fold(open_: bool) -> None:
                toggle.setArrowType(Qt.DownArrow if open_ else Qt.RightArrow)
                self._refresh_rows()

            toggle.toggled.connect(fold)
            body_lay.addWidget(toggle, 0, Qt.AlignLeft)
            body_lay.addWidget(box)
            self.advanced[section] = (toggle, box, form)
        return self.advanced[section][2]

    def _search_hits(self, needle: str) -> set[str]:
        """Keys matching the search: by label, key, help text or section title."""
        hits = set()
        for key, ed in self.editors.items():
            spec = ed.spec
            title = SECTION_TITLES.get(spec.section, spec.section).lower()
            texts = (key.lower(), self.labels[key].lower(), spec.help.lower(), title)
            if any(needle in t for t in texts):
                hits.add(key)
        return hits

    def visible_keys(self) -> list[str]:
        """Keys whose rows are shown (their section and Advanced group open), in panel order."""
        return [key for key, (_form, label) in self.rows.items() if label.isVisibleTo(self)]

    def _refresh_rows(self) -> None:
        """Show the fields that apply to the current config (and match the search). While
        searching, matching fields that do not apply are shown greyed, saying when they apply."""
        if not hasattr(self, "search"):
            return  # still building
        config = self.controller.config
        needle = self.search.text().strip().lower()
        hits = self._search_hits(needle) if needle else None
        shown_in: dict[str, int] = {}
        advanced_in: dict[str, int] = {}
        for key, (form, label) in self.rows.items():
            ed = self.editors[key]
            ok = applies(key, config)
            visible = ok if hits is None else key in hits
            form.setRowVisible(label, visible)
            label.setEnabled(ok)
            ed.widget.setEnabled(ok)
            if not ok:
                rule = display_of(key).applies
                why = rule.why if rule is not None else ""
                label.setToolTip(f"{ed.base_tip}<br><i>not used now: {why}</i>")
            else:
                label.setToolTip(ed.base_tip)  # _refresh_pending adds the pending note
            section = ed.spec.section
            if visible:
                shown_in[section] = shown_in.get(section, 0) + 1
                if display_of(key).advanced:
                    advanced_in[section] = advanced_in.get(section, 0) + 1
        for section, (header, body, _form) in self.sections.items():
            header.setVisible(hits is None or shown_in.get(section, 0) > 0)
            body.setVisible(shown_in.get(section, 0) > 0 if hits is not None else header.isChecked())
            if section in self.advanced:
                toggle, box, _ = self.advanced[section]
                n = advanced_in.get(section, 0)
                toggle.setVisible(n > 0)
                toggle.setText(f"Advanced ({n})")
                box.setVisible(n > 0 and (hits is not None or toggle.isChecked()))
        self._refresh_pending()

    def set_config(self, config: ExperimentConfig) -> None:
        for key, ed in self.editors.items():
            ed.set_value(config.get(key))
        self.status.setText("")
        self._refresh_rows()

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
            live = (RunState.RUNNING, RunState.PAUSED, RunState.DIVERGED)
            if self.applied is not None and key in LIVE_KEYS and self.controller.state in live:
                self.applied = self.applied.with_updates({key: self.controller.config.get(key)})
            self.field_committed.emit(key, self.controller.config.get(key))
        self._refresh_rows()
        return error

    # -- invalid and pending edits ---------------------------------------------------------
    def commit_typed_text(self) -> None:
        """Commit text typed into a field but not yet confirmed (Ctrl+R pressed while typing)."""
        config = self.controller.config
        for key, ed in self.editors.items():
            w = ed.widget
            if isinstance(w, QLineEdit) and w.isEnabled() and w.text() != _text_of(ed.spec, config.get(key)):
                ed.commit(w.text())

    def invalid_fields(self) -> list[str]:
        """Keys whose editor shows text that was refused (not what the config holds)."""
        return [k for k, ed in self.editors.items() if ed.error]

    def restart_problem(self) -> str | None:
        """Why a restart must wait (fields showing refused values), or None. The first such
        field is scrolled to and focused."""
        self.commit_typed_text()
        bad = self.invalid_fields()
        if not bad:
            return None
        names = ", ".join(f"{self.labels[k]} ({k})" for k in bad)
        message = (
            f"not restarted: fix {names} first — the field{'s show' if len(bad) > 1 else ' shows'} "
            "a value that was refused"
        )
        self.status.setText(f"<span style='color:#D55E00'>{message}</span>")
        w = self.editors[bad[0]].widget
        if w.isVisibleTo(self):
            self.scroll.ensureWidgetVisible(w)
            w.setFocus()
        return message

    def pending_keys(self) -> list[str]:
        """Keys edited since the run started that take effect only on restart."""
        if self.applied is None:
            return []
        config = self.controller.config
        return [k for k in self.editors if config.get(k) != self.applied.get(k)]

    def _refresh_pending(self) -> None:
        pending = set(self.pending_keys())
        for key, (_form, label) in self.rows.items():
            text = self.labels[key] + (" ⚡" if key in LIVE_KEYS else "")
            if key in pending:
                was = _text_of(self.editors[key].spec, self.applied.get(key)) if self.applied else ""
                label.setText(f"• {text}")
                label.setStyleSheet("color: #B35900; font-style: italic;")
                label.setToolTip(f"{self.editors[key].base_tip}<br><b>pending</b>: applies on restart (running: {was})")
            elif label.text() != text:
                label.setText(text)
                label.setStyleSheet("")
        if pending:
            names = [self.labels[k] for k in self.editors if k in pending]
            # at most three names on the button (a lesson's config can differ in many fields,
            # and the button's width is the panel's); the tooltip lists them all
            shown = ", ".join(names) if len(names) <= 3 else f"{', '.join(names[:2])} and {len(names) - 2} more"
            self.restart_button.setText(f"Restart to apply: {shown} (Ctrl+R)")
            self.restart_button.setToolTip(f"{len(pending)} edit(s) wait for a restart: {', '.join(names)}")
        self.restart_button.setVisible(bool(pending) or self.controller.restart_needed)

    def _on_controller_run_started(self, _run_id: str, config: ExperimentConfig) -> None:
        self.applied = config
        self._refresh_pending()

    def _on_controller_config_changed(self, _config: ExperimentConfig) -> None:
        """A config set from elsewhere (a view's data file, an opened session): with no run
        there is nothing in force to differ from; a running run keeps its config in force
        (what differs from it stays pending)."""
        if self.controller.worker is None:
            self.applied = None
        self._refresh_pending()

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
        if not pending:
            self.status.setText("")
        self._refresh_pending()


def _make_form() -> QFormLayout:
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignRight)
    form.setContentsMargins(6, 0, 6, 4)
    form.setVerticalSpacing(3)
    return form
