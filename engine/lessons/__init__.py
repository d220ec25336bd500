"""Lessons: every claim of the lecture one click away, with a check that says whether it showed."""

from engine.lessons.loader import find_lesson, load_lesson_file, parse_lesson, shipped_lessons
from engine.lessons.metrics import METRICS, LessonError, compute
from engine.lessons.runner import LessonResult, check_result, lesson_job, run_lesson
from engine.lessons.schema import SECTIONS, VIEWS, Change, Lesson

__all__ = [
    "Change",
    "Lesson",
    "LessonError",
    "LessonResult",
    "METRICS",
    "SECTIONS",
    "VIEWS",
    "check_result",
    "compute",
    "find_lesson",
    "lesson_job",
    "load_lesson_file",
    "parse_lesson",
    "run_lesson",
    "shipped_lessons",
]
