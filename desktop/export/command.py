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

HELP = (
    "export a session's plots (png, svg, pdf), series (csv), comparison report (html) and "
    "TensorBoard logdir (tensorboard: one sub-folder per run) to a folder"
)
FORMATS = ("png", "svg", "pdf", "csv", "html", "tensorboard")
DEFAULT_FORMATS = ("png", "svg", "csv", "html")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="session file (.descent)")
    p.add_argument("--to", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.add_argument(
        "--format",
        default=",".join(DEFAULT_FORMATS),
        help=f"comma-separated subset of {','.join(FORMATS)} (default: {','.join(DEFAULT_FORMATS)})",
    )
    p.add_argument("--width", type=int, default=900, help="plot width in logical pixels (default 900)")
    p.add_argument("--height", type=int, default=560, help="plot height in logical pixels (default 560)")
    p.add_argument(
        "--scale",
        type=float,
        default=2.0,
        help="PNG pixels per logical pixel (default 2: a 900×560 plot is an 1800×1120 PNG; text and lines grow along)",
    )


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
    file: str | os.PathLike,
    folder: str | os.PathLike,
    formats: set[str],
    width: int = 900,
    height: int = 560,
    scale: float = 2.0,
) -> list[Path]:
    """Everything asked for, into `folder`; raises SessionError or ExportError (one line each)."""
    session = load_session(file)
    folder = ensure_folder(folder)
    files: list[Path] = []
    if "csv" in formats:
        files += write_csvs(session, folder)
    if "tensorboard" in formats:
        from engine.export.tensorboard import write_tensorboard

        files += write_tensorboard(session, folder)
    if formats & {"png", "svg", "pdf", "html"}:
        app = _qt_app()  # noqa: F841 - must stay alive while plots are drawn
        from desktop.export.plots import export_comparison_images
        from desktop.plotting import color
        from engine.compare.layout import run_colors

        images, report = export_comparison_images(session, folder, formats, width, height, scale)
        files += images
        if "html" in formats:
            cols = run_colors(session)
            text = html_report(
                session,
                report,
                [color(cols[r.name]) for r in session.runs],
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
    if not 0.1 <= args.scale <= 16 or max(args.width, args.height) * args.scale > 16384:
        raise CommandError("--scale: between 0.1 and 16, and at most 16384 pixels a side")
    try:
        files = export_session(args.file, args.to, formats, args.width, args.height, args.scale)
    except (SessionError, ExportError) as e:
        raise CommandError(str(e)) from None
    kinds = sorted({p.suffix[1:] if p.suffix else "tensorboard run folder" for p in files})
    print(f"{args.to}: wrote {len(files)} files ({', '.join(kinds)})")
    return 0
