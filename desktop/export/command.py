"""`descent export`: a session's plots (PNG/SVG), series (CSV) and comparison report (HTML).

CSV alone imports no Qt; images use Qt's offscreen platform when there is no display.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine.commands.common import CommandError
from engine.export import ExportError, html_report, write_csvs, write_text_atomic
from engine.export.files import ensure_folder
from engine.session import SessionError, load_session

HELP = "export a session's plots (png, svg), series (csv) and comparison report (html) to a folder"
FORMATS = ("png", "svg", "csv", "html")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="session file (.descent)")
    p.add_argument("--to", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.add_argument(
        "--format", default=",".join(FORMATS), help="comma-separated subset of png,svg,csv,html (default: all)"
    )
    p.add_argument("--width", type=int, default=900, help="PNG width in pixels (default 900)")
    p.add_argument("--height", type=int, default=560, help="PNG height in pixels (default 560)")


def _qt_app():
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    from PySide6.QtWidgets import QApplication

    from desktop.plotting import configure_pyqtgraph

    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_pyqtgraph()
    return app


def export_session(
    file: str | os.PathLike, folder: str | os.PathLike, formats: set[str], width: int = 900, height: int = 560
) -> list[Path]:
    """Everything asked for, into `folder`; raises SessionError or ExportError (one line each)."""
    session = load_session(file)
    folder = ensure_folder(folder)
    files: list[Path] = []
    if "csv" in formats:
        files += write_csvs(session, folder)
    if formats & {"png", "svg", "html"}:
        app = _qt_app()  # noqa: F841 - must stay alive while plots are drawn
        from desktop.export.plots import export_comparison_images
        from desktop.plotting import color
        from engine.compare.layout import comparison_session, run_colors

        images, report = export_comparison_images(session, folder, formats, width, height)
        files += images
        from desktop.export.network import export_network_images

        files += export_network_images(session, folder, formats, width, height)
        if "html" in formats:
            cols = run_colors(session)
            compared = comparison_session(session)  # the report shows the comparison's runs only
            text = html_report(
                compared,
                report,
                [color(cols[r.name]) for r in compared.runs],
                title=f"Descent comparison — {Path(file).name}",
            )
            files.append(write_text_atomic(folder / "report.html", text))
    return files


def main(args: argparse.Namespace) -> int:
    formats = {f.strip().lower() for f in args.format.split(",") if f.strip()}
    bad = formats - set(FORMATS)
    if bad or not formats:
        raise CommandError(
            f"--format: unknown format(s) {', '.join(sorted(bad)) or '(none)'} (choose from {','.join(FORMATS)})"
        )
    if not (16 <= args.width <= 8192 and 16 <= args.height <= 8192):
        raise CommandError("--width/--height: between 16 and 8192 pixels")
    try:
        files = export_session(args.file, args.to, formats, args.width, args.height)
    except (SessionError, ExportError) as e:
        raise CommandError(str(e)) from None
    print(f"{args.to}: wrote {len(files)} files ({', '.join(sorted({p.suffix[1:] for p in files}))})")
    return 0
