"""`descent export`: a session's plots (PNG/SVG/PDF), series (CSV), comparison report (HTML),
TensorBoard logdir and animations (GIF/MP4).

CSV and TensorBoard import no Qt; 2D images use Qt's offscreen platform when there is no
display. The 3D animation frames (race, landscape) need OpenGL, which the offscreen platform
lacks: with no display the command runs itself again under `xvfb-run`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from engine.commands.common import CommandError
from engine.export import ExportError, html_report, write_csvs, write_text_atomic
from engine.export.files import ensure_folder
from engine.session import SessionError, load_session

HELP = (
    "export a session's plots (png, svg, pdf), series (csv), comparison report (html), "
    "TensorBoard logdir (tensorboard: one sub-folder per run) and animations (gif, mp4) to a folder"
)
FORMATS = ("png", "svg", "pdf", "csv", "html", "tensorboard", "gif", "mp4")
DEFAULT_FORMATS = ("png", "svg", "csv", "html")
VIDEO = ("gif", "mp4")
ANIMATIONS = ("race", "landscape", "curves")  # desktop.export.animation.ANIMATIONS, without importing Qt
UNDER_XVFB = "DESCENT_EXPORT_UNDER_XVFB"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="session file (.descent)")
    p.add_argument("--to", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.add_argument(
        "--format",
        default=",".join(DEFAULT_FORMATS),
        help=f"comma-separated subset of {','.join(FORMATS)} (default: {','.join(DEFAULT_FORMATS)})",
    )
    p.add_argument(
        "--width", type=int, default=None, help="plot (default 900) or animation (default 960) width in pixels"
    )
    p.add_argument(
        "--height", type=int, default=None, help="plot (default 560) or animation (default 540) height in pixels"
    )
    p.add_argument(
        "--scale",
        type=float,
        default=2.0,
        help="PNG pixels per logical pixel (default 2: a 900×560 plot is an 1800×1120 PNG; text and lines grow along)",
    )
    p.add_argument("--fps", type=float, default=15.0, help="animation frames per second (default 15)")
    p.add_argument("--seconds", type=float, default=6.0, help="animation duration in seconds (default 6)")
    p.add_argument(
        "--animate",
        default=None,
        help=f"with gif/mp4: comma-separated subset of {','.join(ANIMATIONS)} "
        "(default: every one the session has data for)",
    )


def _qt_app():
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    from desktop.qt_setup import prepare_qt

    prepare_qt()
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
    """Everything but animations asked for, into `folder`; raises SessionError or ExportError (one line each)."""
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
        from engine.compare.layout import comparison_session, run_colors

        images, report = export_comparison_images(session, folder, formats, width, height, scale)
        files += images
        from desktop.export.network import export_network_images

        files += export_network_images(session, folder, formats, width, height, scale)
        from desktop.export.search_images import export_search_images

        tuning_images, tuning_report = export_search_images(session, folder, formats, width, height, scale)
        files += tuning_images
        report += tuning_report
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


def export_animations(
    file: str | os.PathLike,
    folder: str | os.PathLike,
    formats: list[str],
    kinds: list[str] | None,
    fps: float = 15.0,
    seconds: float = 6.0,
    width: int = 960,
    height: int = 540,
    progress=None,
) -> list[Path]:
    """The animations `kinds` (None: every one the session has data for) as GIF and/or MP4."""
    session = load_session(file)
    app = _qt_app()  # noqa: F841 - must stay alive while frames are drawn
    from desktop.export.animation import AnimationSpec, animation_job, available_animations
    from engine.jobs import run_job

    spec = AnimationSpec(fps, seconds, width, height)
    spec.check(formats)
    have = available_animations(session)
    if kinds is None:
        kinds = [k for k, missing in have.items() if missing is None]
        if not kinds:
            raise ExportError("nothing to animate: " + "; ".join(m for m in have.values() if m))
    for k in kinds:
        if have.get(k):
            raise ExportError(f"--animate {k}: {have[k]}")
    files: list[Path] = []
    for k in kinds:
        files += run_job(animation_job(session, k, folder, formats, spec), progress)
    return files


def _needs_gl(args: argparse.Namespace, formats: set[str]) -> bool:
    if not formats & set(VIDEO):
        return False
    kinds = _kinds(args)
    return kinds is None or bool(set(kinds) & {"race", "landscape"})


def _kinds(args: argparse.Namespace) -> list[str] | None:
    if args.animate is None:
        return None
    kinds = [k.strip().lower() for k in args.animate.split(",") if k.strip()]
    bad = [k for k in kinds if k not in ANIMATIONS]
    if bad or not kinds:
        raise CommandError(
            f"--animate: unknown animation(s) {', '.join(bad) or '(none)'} (choose from {','.join(ANIMATIONS)})"
        )
    return kinds


def _rerun_under_xvfb(argv: list[str]) -> int:
    """The same command under a virtual X server (3D frames need OpenGL; Qt's offscreen platform has none)."""
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        raise CommandError(
            "3D animation frames need a display: set DISPLAY, or install Xvfb (Debian: xvfb xauth) so that "
            "descent can start a virtual one (or use --animate curves, which needs none)"
        )
    print("descent export: no display; drawing the 3D frames under xvfb-run", file=sys.stderr)
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env[UNDER_XVFB] = "1"
    cmd = [xvfb, "-a", "-s", "-screen 0 1920x1080x24", sys.executable, "-m", "desktop.cli", "export", *argv]
    return subprocess.call(cmd, env=env)


def _argv(args: argparse.Namespace) -> list[str]:
    out = [args.file, "--to", args.to, "--format", args.format, "--scale", str(args.scale)]
    out += ["--fps", str(args.fps), "--seconds", str(args.seconds)]
    for name in ("width", "height", "animate"):
        if getattr(args, name) is not None:
            out += [f"--{name}", str(getattr(args, name))]
    return out


def main(args: argparse.Namespace) -> int:
    formats = {f.strip().lower() for f in args.format.split(",") if f.strip()}
    bad = formats - set(FORMATS)
    if bad or not formats:
        raise CommandError(
            f"--format: unknown format(s) {', '.join(sorted(bad)) or '(none)'} (choose from {','.join(FORMATS)})"
        )
    still = formats - set(VIDEO)
    width = args.width if args.width is not None else 900
    height = args.height if args.height is not None else 560
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise CommandError("--width/--height: between 16 and 8192 pixels")
    if not 0.1 <= args.scale <= 16 or max(width, height) * args.scale > 16384:
        raise CommandError("--scale: between 0.1 and 16, and at most 16384 pixels a side")
    kinds = _kinds(args)
    video = [f for f in VIDEO if f in formats]
    if (
        video
        and _needs_gl(args, formats)
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and not os.environ.get(UNDER_XVFB)
    ):
        return _rerun_under_xvfb(_argv(args))
    files: list[Path] = []
    try:
        if still:
            files += export_session(args.file, args.to, still, width, height, args.scale)
        if video:
            from engine.commands.common import ProgressBar

            bar = ProgressBar(1000, "animating") if sys.stderr.isatty() else None
            files += export_animations(
                args.file,
                args.to,
                video,
                kinds,
                args.fps,
                args.seconds,
                args.width if args.width is not None else 960,
                args.height if args.height is not None else 540,
                progress=(lambda p: bar.update(round(1000 * p.fraction), p.message)) if bar is not None else None,
            )
            if bar is not None:
                bar.close()
    except (SessionError, ExportError) as e:
        raise CommandError(str(e)) from None
    kinds_written = sorted({p.suffix[1:] if p.suffix else "tensorboard run folder" for p in files})
    print(f"{args.to}: wrote {len(files)} files ({', '.join(kinds_written)})")
    return 0
