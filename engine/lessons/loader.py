"""Reading lesson files: the shipped ones (resources/lessons/*.toml) and a teacher's own.

A file that cannot be used is refused with one line naming the problem: the line and
column of a TOML syntax error, the dotted field of a schema error (unknown keys included),
an unknown view, metric or config key.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import ValidationError

from engine.lessons.metrics import LessonError
from engine.lessons.schema import Lesson
from engine.resources import resource

MAX_LESSON_BYTES = 256 * 1024


def parse_lesson(text: str, source: str = "lesson") -> Lesson:
    """A validated lesson from TOML text; LessonError names the line or the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        where = f"line {m.group(1)}, column {m.group(2)}" if m else "syntax"
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise LessonError(f"{source}: {where}: {msg}") from None
    try:
        lesson = Lesson.model_validate(data)
    except ValidationError as e:
        raise LessonError(f"{source}: {describe(e)}") from None
    from engine.lessons.runner import validate_lesson

    try:
        validate_lesson(lesson)
    except LessonError as e:
        raise LessonError(f"{source}: {e}") from None
    return lesson


def describe(err: ValidationError) -> str:
    """The schema problems, each with its dotted field ("check.above: ...")."""
    parts = []
    errors = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")  # a misspelt key first
    for e in errors[:3]:
        loc = ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-after"))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required field missing"
        parts.append(f"{loc or 'lesson'}: {msg}")
    more = len(err.errors()) - 3
    return "; ".join(parts) + (f"; and {more} more problems" if more > 0 else "")


def load_lesson_file(path: str | Path) -> Lesson:
    """A teacher's lesson file; LessonError (bad input) when it is missing, too large or invalid."""
    p = Path(path)
    if not p.is_file():
        raise LessonError(f"{p}: no such lesson file")
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_LESSON_BYTES + 1)
    except OSError as e:
        raise LessonError(f"{p}: cannot read ({e.strerror or e})") from None
    if len(raw) > MAX_LESSON_BYTES:
        raise LessonError(f"{p}: larger than {MAX_LESSON_BYTES // 1024} KB: not a lesson file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LessonError(f"{p}: not UTF-8 text") from None
    return parse_lesson(text, str(p))


def shipped_lessons() -> list[Lesson]:
    """Every lesson under resources/lessons, by section, then order, then id."""
    folder = resource("lessons")
    lessons = []
    for entry in sorted(folder.iterdir(), key=lambda t: t.name):
        if entry.name.endswith(".toml"):
            lesson = parse_lesson(entry.read_text(encoding="utf-8"), f"lessons/{entry.name}")
            lessons.append(lesson)
    ids = [lesson.id for lesson in lessons]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise LessonError(f"lessons: repeated ids {', '.join(dup)}")
    return sorted(lessons, key=lambda lesson: (lesson.section, lesson.order, lesson.id))


def find_lesson(key: str) -> Lesson:
    """A shipped lesson by id, or a lesson file by path (a name ending in .toml or containing '/')."""
    if key.endswith(".toml") or "/" in key:
        return load_lesson_file(key)
    lessons = shipped_lessons()
    for lesson in lessons:
        if lesson.id == key:
            return lesson
    raise LessonError(f"no lesson {key!r} (descent lesson list shows them)")
