"""Exports that need no Qt: series to CSV, the final-metrics table, the HTML comparison report."""

from engine.export.csv import write_csvs
from engine.export.files import ExportError, safe_stem, write_text_atomic
from engine.export.report import html_report
from engine.export.table import METRIC_COLUMNS, final_table

__all__ = [
    "ExportError",
    "safe_stem",
    "write_text_atomic",
    "METRIC_COLUMNS",
    "final_table",
    "write_csvs",
    "html_report",
]
