"""Exports that need no Qt: series to CSV, the final-metrics table, the HTML comparison report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.export.csv import write_csvs
    from engine.export.files import ExportError, safe_stem, write_text_atomic
    from engine.export.report import html_report
    from engine.export.table import METRIC_COLUMNS, final_table

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "write_csvs": "engine.export.csv",
        "ExportError": "engine.export.files",
        "safe_stem": "engine.export.files",
        "write_text_atomic": "engine.export.files",
        "html_report": "engine.export.report",
        "METRIC_COLUMNS": "engine.export.table",
        "final_table": "engine.export.table",
    },
)

__all__ = [
    "ExportError",
    "safe_stem",
    "write_text_atomic",
    "METRIC_COLUMNS",
    "final_table",
    "write_csvs",
    "html_report",
]
