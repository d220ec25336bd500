"""Every shipped lesson shows its claim, and with its cause removed (its control) it does not."""

from __future__ import annotations

import pytest

from engine.lessons import SECTIONS, run_lesson, shipped_lessons

LESSONS = shipped_lessons()
WITH_CONTROL = [lesson for lesson in LESSONS if lesson.check.control is not None]


def test_at_least_25_lessons_cover_every_section_with_unique_ids():
    ids = [lesson.id for lesson in LESSONS]
    assert len(ids) >= 25 and len(set(ids)) == len(ids)
    assert {lesson.section for lesson in LESSONS} == set(SECTIONS)
    # The claims the lessons must cover, by the lesson that shows each.
    for needed in (
        "sigmoid-saturation",
        "dead-relu",
        "prelu-slope",
        "constant-init-symmetry",
        "small-gaussian-depth",
        "xavier-tanh",
        "he-relu",
        "standardize-inputs",
        "whitening",
        "bn-placement",
        "bn-train-eval",
        "bn-small-batch",
        "gradient-noise",
        "saddle-point",
        "plateau",
        "momentum-ravine",
        "nesterov",
        "adagrad-rmsprop",
        "adam",
        "lr-schedule",
        "l2-penalty",
        "dropout",
        "augmentation",
        "lr-too-high",
        "initial-loss",
        "tiny-subset",
        "loss-vs-accuracy",
        "roc-auc",
        "coarse-to-fine",
        "large-init-saturation",
    ):
        assert needed in ids


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_lesson_shows_its_claim(lesson, one_torch_thread):
    result = run_lesson(lesson)
    assert result.passed, f"{lesson.id}: {result.sentence} ({lesson.check.metric} = {result.value})"
    assert result.sentence.startswith(lesson.check.say.split("{")[0])


@pytest.mark.parametrize("lesson", WITH_CONTROL, ids=[lesson.id for lesson in WITH_CONTROL])
def test_lesson_check_fails_with_the_cause_removed(lesson, one_torch_thread):
    result = run_lesson(lesson, lesson.check.control)
    assert not result.passed, f"{lesson.id} passed its control: {result.sentence} ({result.value})"
    assert result.sentence.startswith(lesson.check.say_not.split("{")[0])


def test_lessons_without_a_control_are_those_checked_against_an_independent_computation():
    assert sorted(lesson.id for lesson in LESSONS if lesson.check.control is None) == [
        "gradient-noise",
        "loss-vs-accuracy",
        "roc-auc",
    ]
