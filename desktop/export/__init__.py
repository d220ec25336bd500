"""Exports that need Qt: plots as PNG/SVG (items), the plots' context menu (plot_menu), the
comparison report's images (plots) and the File ▸ Export menu (menu)."""
