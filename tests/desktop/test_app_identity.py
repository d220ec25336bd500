"""The installed app's identity: `descent FILE.descent` opens the session (the desktop entry's
Exec=descent %f), `descent --version`, and the window's icon and desktop file name."""

from __future__ import annotations

from pathlib import Path

import desktop.app
from desktop.cli import main

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "format2_main.descent"


def test_file_argument_opens_the_session(monkeypatch, capsys):
    seen: dict = {}
    monkeypatch.setattr(desktop.app, "run_app", lambda **kw: seen.update(kw) or 0)
    assert main([str(FIXTURE)]) == 0
    assert seen["session_path"] == str(FIXTURE) and seen["session"].runs
    assert main(["no-such-file.descent"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-file.descent" in err[0]
    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("descent 0.")


def test_window_icon_and_desktop_file_name(qapp):
    from desktop.app import DESKTOP_ID, _make_app

    app = _make_app()
    assert app.desktopFileName() == DESKTOP_ID
    icon = app.windowIcon()
    assert not icon.isNull()
    for size in (48, 128, 256):
        img = icon.pixmap(size, size).toImage()
        assert img.width() == size and img.pixelColor(size // 2, size // 2).alpha() > 0  # drawn, not empty
