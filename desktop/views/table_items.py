"""Table cells shared by the views' tables."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidgetItem


class NumberItem(QTableWidgetItem):
    """A table cell that sorts by its number (NaN last)."""

    def __init__(self, value: float, text: str) -> None:
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.value, getattr(other, "value", math.nan)
        if math.isnan(a):
            return False
        if math.isnan(b):
            return True
        return a < b
