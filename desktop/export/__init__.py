"""Plot exports that need Qt: PNG (chosen size) and SVG via pyqtgraph's exporters; the report's images."""

from desktop.export.plots import COMPARISON_PLOTS, export_item, render_comparison_plots

__all__ = ["COMPARISON_PLOTS", "export_item", "render_comparison_plots"]
