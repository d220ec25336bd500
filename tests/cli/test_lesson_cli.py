"""`descent lesson list` and `descent lesson run`: the check printed, exit codes 0/1/2, --out."""

from __future__ import annotations

import json

from desktop.cli import main
from engine.lessons import shipped_lessons
from engine.session import load_session


def test_lesson_list_shows_every_lesson_by_section(capsys):
    assert main(["lesson", "list"]) == 0
    text = capsys.readouterr().out
    assert "4. Optimizers" in text and "momentum-ravine" in text and "Momentum in a ravine" in text
    assert main(["lesson", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == len(shipped_lessons()) >= 25
    ravine = next(d for d in data if d["id"] == "momentum-ravine")
    assert ravine["section"] == 4 and ravine["kind"] == "playground" and ravine["views"] == ["Playground"]


def test_lesson_run_prints_the_check_and_writes_the_session(tmp_path, capsys):
    out = tmp_path / "ravine.descent"
    assert main(["lesson", "run", "momentum-ravine", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("✓ Momentum in a ravine") and "SGD's loss is" in text and "ratio = " in text
    session = load_session(out)
    assert session.meta["lesson"]["id"] == "momentum-ravine" and session.meta["lesson"]["passed"] is True
    assert "playground/momentum/positions" in session.arrays


def test_lesson_run_with_the_cause_removed_exits_1(capsys):
    assert main(["lesson", "run", "momentum-ravine", "--control", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is False and data["value"] == 1.0 and data["changed"].startswith("Momentum coefficient 0")


def test_lesson_run_bad_input_exits_2(tmp_path, capsys):
    assert main(["lesson", "run", "no-such-lesson"]) == 2
    assert "no lesson 'no-such-lesson'" in capsys.readouterr().err
    assert main(["lesson", "run", str(tmp_path / "missing.toml")]) == 2
    assert "no such lesson file" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\ntitle = \n', encoding="utf-8")
    assert main(["lesson", "run", str(bad)]) == 2
    assert "bad.toml: line 2" in capsys.readouterr().err
    assert main(["lesson", "run", "roc-auc", "--control"]) == 2
    assert "has no control" in capsys.readouterr().err
    assert main(["lesson", "run", "momentum-ravine", "--out", str(tmp_path / "no" / "dir.descent")]) == 2


def test_lesson_run_now_try_applies_the_lessons_change(capsys):
    # Momentum 0.5 instead of 0.9: less speed along the ravine's floor, still far ahead of SGD.
    rc = main(["lesson", "run", "momentum-ravine", "--now-try", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["changed"].startswith("Set the momentum racer's momentum to 0.5")
    assert rc == (0 if data["passed"] else 1) and 1 < data["value"] < 1.381e5  # less than with 0.9
