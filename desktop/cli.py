"""The `descent` command: the GUI with no arguments, headless subcommands otherwise.

Headless subcommands live in engine/commands and import no Qt; the GUI is imported
only for `descent`, `descent open` and `--screenshot`.

Start-up stays short: this module imports only the standard library, so `descent --help`
loads no engine, and a subcommand's module is imported only when that subcommand runs.
A new subcommand registers with one line in COMMANDS (name -> module path); its module
defines HELP (one line), add_arguments(parser) and main(args) -> int, and imports what is
heavy (torch, scikit-learn) inside main or in modules main imports, never at the top of a
module that reading a session or printing help needs.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator

# subcommand -> module with HELP, add_arguments(parser), main(args) -> int
COMMANDS: dict[str, str] = {
    "run": "engine.commands.run",
    "continue": "engine.commands.continue_run",
    "info": "engine.commands.info",
    "playground": "engine.commands.playground",
    "compare": "engine.commands.compare",
    "export": "desktop.export.command",  # CSV imports no Qt; images use the offscreen platform
    "landscape": "engine.commands.landscape",
    "sanity": "engine.commands.sanity",
    "init-study": "engine.commands.init_study",
    "lesson": "engine.commands.lesson",
    "lr-find": "engine.commands.lr_find",
    "search": "engine.commands.search",
    "search-demo": "engine.commands.search_demo",
}
GUI_COMMANDS = ("open",)


def _gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="descent",
        description="Descent: a desktop lab for the optimization of deep "
        "neural networks. With no command, opens the window on the default experiment.",
        epilog="commands: "
        + ", ".join([*COMMANDS, *GUI_COMMANDS])
        + " (descent COMMAND --help for each); descent FILE.descent opens a session in the window",
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("--config", help="experiment config JSON to open")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    p.add_argument("--screenshot", metavar="PNG", help="run, save a screenshot of the window and exit")
    p.add_argument(
        "--run-for",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="with --screenshot: seconds to train before the screenshot (default 5)",
    )
    p.add_argument("--tab", help="with --screenshot: the tab to show (title, e.g. Training)")
    p.add_argument("--paused", action="store_true", help="open without starting the run")
    return p


def _fail(message: str) -> int:
    print(f"descent: error: {message}", file=sys.stderr)
    return 2


def version() -> str:
    """The installed distribution's version (the source tree's engine.__version__ when not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("descent")
    except PackageNotFoundError:
        from engine import __version__

        return __version__


def _mistyped_command(word: str) -> str | None:
    """The command `word` is a typo of (`descent exprot`), unless it names an existing file or looks like a path."""
    if os.path.exists(word) or "." in word or os.sep in word or (os.altsep and os.altsep in word):
        return None
    close = difflib.get_close_matches(word, [*COMMANDS, *GUI_COMMANDS], n=1, cutoff=0.6)
    return close[0] if close else None


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors printed as one line with exit code 2 (imported when one is raised)."""
    from engine.commands.common import CommandError
    from engine.config import ConfigError

    return CommandError, ConfigError


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # a frozen bundle's search workers start through this entry point
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):
        print(f"descent {version()}")
        return 0
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS and argv[0] not in GUI_COMMANDS:
        mistyped = _mistyped_command(argv[0])
        if mistyped:
            return _fail(f"unknown command '{argv[0]}'; did you mean '{mistyped}'?")
        # `descent FILE.descent` (the desktop entry's Exec=descent %f): open the session in the window
        argv = ["open", *argv]
    # Descent uses no pydantic plugins: skip the scan of every installed package's entry
    # points that importing pydantic otherwise does (a sizeable part of `descent info`).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("descent: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if isinstance(e, _user_errors()):
            return _fail(str(e))
        raise


def _main(argv: list[str]) -> int:
    if argv and argv[0] in COMMANDS:
        name = argv[0]
        mod = importlib.import_module(COMMANDS[name])
        p = argparse.ArgumentParser(prog=f"descent {name}", description=mod.HELP)
        mod.add_arguments(p)
        args = p.parse_args(argv[1:])
        with _sigterm_unwinds():
            return int(mod.main(args) or 0)
    if argv and argv[0] == "open":
        p = argparse.ArgumentParser(prog="descent open", description="open a session file in the window")
        p.add_argument("file")
        p.add_argument("--screenshot", metavar="PNG")
        p.add_argument("--tab")
        args = p.parse_args(argv[1:])
        from engine.session import SessionError, load_session

        try:
            session = load_session(args.file)
        except SessionError as e:
            return _fail(str(e))
        from desktop.app import run_app

        return run_app(session=session, session_path=args.file, screenshot=args.screenshot, tab=args.tab)
    args = _gui_parser().parse_args(argv)
    if args.version:
        print(f"descent {version()}")
        return 0
    from engine.commands.common import load_config

    config = load_config(args.config, args.set)
    from desktop.app import run_app

    return run_app(config=config, screenshot=args.screenshot, run_for=args.run_for, tab=args.tab, paused=args.paused)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises SystemExit(143) in the main thread, so that every `finally` and the
    atomic writes' clean-up run (the default action ends the process on the spot, leaving
    temporary files behind). The previous handler is restored afterwards."""

    def on_sigterm(signum: int, frame: object) -> None:
        print("descent: terminated (SIGTERM)", file=sys.stderr)
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
