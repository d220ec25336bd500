"""`descent lesson`: list the lessons, or run one headless and print its check."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from engine.commands.common import CommandError, ProgressBar
from engine.commands.run import check_out
from engine.jobs import Progress, run_job
from engine.lessons import LessonError, find_lesson, lesson_job, shipped_lessons
from engine.lessons.schema import SECTIONS, Lesson
from engine.session import SessionError, save_session

HELP = "list the lessons (one per claim of the lecture) or run one and print whether its claim showed"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="{list,run}")
    ls = sub.add_parser("list", help="the lessons by lecture section", description="the lessons by lecture section")
    ls.add_argument("--json", action="store_true", help="print JSON")
    run = sub.add_parser(
        "run",
        help="run a lesson and print its check (exit 0: the claim showed, 1: it did not, 2: bad input)",
        description="run a lesson and print its check (exit 0: the claim showed, 1: it did not, 2: bad input)",
    )
    run.add_argument("lesson", help="a lesson id (descent lesson list) or the path of a lesson file (.toml)")
    run.add_argument("--out", help="also write the result to this session file (.descent)")
    run.add_argument("--json", action="store_true", help="print the check as JSON")
    change = run.add_mutually_exclusive_group()
    change.add_argument("--now-try", action="store_true", help="run with the lesson's 'now try' change")
    change.add_argument(
        "--control", action="store_true", help="run with the cause removed (the check should then not pass)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")


def lesson_json(lesson: Lesson) -> dict:
    return {
        "id": lesson.id,
        "title": lesson.title,
        "section": lesson.section,
        "section_title": lesson.section_title,
        "summary": lesson.summary,
        "kind": lesson.setup.kind,
        "views": list(lesson.views),
        "metric": lesson.check.metric,
        "has_control": lesson.check.control is not None,
    }


def _list(args: argparse.Namespace) -> int:
    try:
        lessons = shipped_lessons()
    except LessonError as e:
        raise CommandError(str(e)) from None
    if args.json:
        print(json.dumps([lesson_json(lesson) for lesson in lessons], indent=2, ensure_ascii=False))
        return 0
    width = max(len(lesson.id) for lesson in lessons)
    for number, name in SECTIONS.items():
        group = [lesson for lesson in lessons if lesson.section == number]
        if not group:
            continue
        print(f"{number}. {name}")
        for lesson in group:
            print(f"  {lesson.id:<{width}}  {lesson.title} — {lesson.summary}")
    print(f"{len(lessons)} lessons; run one with: descent lesson run ID")
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        lesson = find_lesson(args.lesson)
    except LessonError as e:
        raise CommandError(str(e)) from None
    change = None
    if args.now_try:
        if lesson.now_try is None:
            raise CommandError(f"lesson {lesson.id!r} has no 'now try' change")
        change = lesson.now_try
    if args.control:
        if lesson.check.control is None:
            raise CommandError(
                f"lesson {lesson.id!r} has no control: its check compares with an independent computation"
            )
        change = lesson.check.control
    if args.out:
        check_out(args.out)
    bar = None if args.quiet or args.json else ProgressBar(1000, lesson.id)

    def on_progress(p: Progress) -> None:
        if bar is not None:
            bar.update(int(p.fraction * 1000), p.message)

    try:
        result = run_job(lesson_job(lesson, change), on_progress)
    except LessonError as e:
        raise CommandError(str(e)) from None
    finally:
        if bar is not None:
            bar.close()
    if args.out:
        try:
            save_session(result.session, Path(args.out))
        except SessionError as e:
            raise CommandError(str(e)) from None
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        mark = "✓" if result.passed else "✗"
        value = f"{result.value:.4g}" if math.isfinite(result.value) else str(result.value)
        bound = f"> {lesson.check.above:g}" if lesson.check.above is not None else f"< {lesson.check.below:g}"
        print(f"{mark} {lesson.title}" + (f" [{result.changed}]" if result.changed else ""))
        print(f"  {result.sentence}")
        print(f"  {lesson.check.metric} = {value} (shows the claim when {bound}; {result.seconds:.1f} s)")
        if args.out:
            print(f"  session written to {args.out}")
    return 0 if result.passed else 1


def main(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args)
    return _run(args)
