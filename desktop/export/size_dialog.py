"""The PNG size dialog: the plot's size in logical pixels and the scale it is drawn at."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QSpinBox, QWidget

from desktop.export.items import default_scale


class PngSizeDialog(QDialog):
    """Width and height (the plot is laid out at that size) and scale (pixels per logical pixel:
    fonts and lines grow with it, as on a high-DPI screen). Starts at the plot's size on screen and
    2×, or more so that the PNG is at least 1600 pixels wide."""

    def __init__(self, width: int, height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PNG size")
        form = QFormLayout(self)
        self.width_box = QSpinBox(minimum=16, maximum=8192, value=max(16, width), suffix=" px")
        self.height_box = QSpinBox(minimum=16, maximum=8192, value=max(16, height), suffix=" px")
        self.scale_box = QDoubleSpinBox(minimum=0.5, maximum=8.0, singleStep=0.5, decimals=2, suffix=" ×")
        self.scale_box.setValue(default_scale(width))
        self.result_label = QLabel()
        form.addRow("Plot width", self.width_box)
        form.addRow("Plot height", self.height_box)
        form.addRow("Scale", self.scale_box)
        form.addRow("PNG size", self.result_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        for box in (self.width_box, self.height_box, self.scale_box):
            box.valueChanged.connect(self._on_box_changed)
        self._on_box_changed()

    def values(self) -> tuple[int, int, float]:
        return self.width_box.value(), self.height_box.value(), self.scale_box.value()

    def _on_box_changed(self, *_) -> None:
        w, h, s = self.values()
        self.result_label.setText(f"{round(w * s)} × {round(h * s)} pixels")
