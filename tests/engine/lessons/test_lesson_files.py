"""Lesson files: clear errors for bad ones (the field named, the line of a syntax error), a
teacher's own file from any folder, and the checks without a control compared with an
independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.lessons import LessonError, check_result, find_lesson, load_lesson_file, parse_lesson, run_lesson
from engine.lessons.metrics import rank_auc

TEACHER = """
id = "my-ravine"
title = "My ravine"
section = 4
summary = "Momentum against SGD on a steeper ravine."
explanation = "A condition number of 100: SGD zig-zags, momentum runs along the floor."
views = ["Playground"]
look_for = ["SGD zig-zags.", "Momentum runs along the floor."]

[setup]
kind = "playground"

[setup.race]
function = "quadratic"
optimizers = ["sgd", "momentum"]
set = { steps = 100, condition = 100 }

[check]
metric = "ratio"
args = { of = "race_loss", a = "sgd", b = "momentum" }
above = 10.0
say = "SGD's loss is {value:.3g}x momentum's."
say_not = "SGD's loss is only {value:.3g}x momentum's."

[check.control]
text = "no momentum"
race = { "momentum.momentum" = 0.0 }
"""


def test_a_teachers_file_from_a_temporary_folder_loads_and_runs(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(TEACHER, encoding="utf-8")
    lesson = find_lesson(str(path))
    assert lesson.id == "my-ravine" and lesson.section_title == "4. Optimizers"
    result = run_lesson(lesson)
    assert result.passed and result.value > 10 and result.sentence.startswith("SGD's loss is ")
    control = run_lesson(lesson, lesson.check.control)
    assert not control.passed and control.value == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace('kind = "playground"', 'kind = "playground"\ncolour = "red"'),
            "setup.colour: unknown key",
        ),
        (lambda t: t.replace('title = "My ravine"\n', ""), "title: required field missing"),
        (
            lambda t: t.replace('views = ["Playground"]', 'views = ["Playground", "Loss movie"]'),
            "unknown view 'Loss movie'",
        ),
        (lambda t: t.replace('metric = "ratio"', 'metric = "happiness"'), "check.metric: unknown metric 'happiness'"),
        (lambda t: t.replace("above = 10.0", "above = 10.0\nbelow = 1.0"), "exactly one of 'above' or 'below'"),
        (lambda t: t.replace("section = 4", "section = 9"), "section: section must be one of 1, 2, 3, 4, 5, 6, 7"),
        (lambda t: t.replace("condition = 100", "condition = 0.5"), "setup.race: condition"),
        (lambda t: t.replace('"momentum.momentum" = 0.0', '"momentum.momentum" = 2.0'), "check.control: setup.race"),
        (
            lambda t: t.replace('look_for = ["SGD zig-zags.", "Momentum runs along the floor."]', 'look_for = ["one"]'),
            "look_for",
        ),
        (lambda t: t.replace('kind = "playground"', 'kind = "compare"'), "a compare setup needs at least 2 variants"),
    ],
)
def test_a_bad_lesson_is_refused_with_the_field_named(edit, message):
    with pytest.raises(LessonError) as e:
        parse_lesson(edit(TEACHER), "mine.toml")
    assert str(e.value).startswith("mine.toml: ") and message in str(e.value)
    assert "\n" not in str(e.value)


def test_a_bad_config_key_in_a_run_setup_is_named():
    text = TEACHER.replace(
        '[setup]\nkind = "playground"\n\n[setup.race]\nfunction = "quadratic"\noptimizers = ["sgd", "momentum"]\n'
        "set = { steps = 100, condition = 100 }",
        '[setup]\nkind = "run"\nset = { "optim.learning_rate" = 0.1 }',
    ).replace('race = { "momentum.momentum" = 0.0 }', 'set = { "optim.lr" = 0.1 }')
    with pytest.raises(LessonError, match=r"^mine.toml: setup.set: unknown config key 'optim.learning_rate'$"):
        parse_lesson(text, "mine.toml")


def test_a_toml_syntax_error_names_its_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(TEACHER.replace('summary = "Momentum', "summary = Momentum"), encoding="utf-8")
    with pytest.raises(LessonError, match=r"broken.toml: line 5, column \d+: "):
        load_lesson_file(path)


def test_missing_and_non_text_files_are_refused(tmp_path):
    with pytest.raises(LessonError, match="no such lesson file"):
        load_lesson_file(tmp_path / "nope.toml")
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00id")
    with pytest.raises(LessonError, match="not UTF-8 text"):
        load_lesson_file(path)


def test_an_unknown_lesson_id_is_refused():
    with pytest.raises(LessonError, match="no lesson 'nope'"):
        find_lesson("nope")


# -- checks without a cause to remove: compared with an independent computation ---------
def test_rank_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(300), 2)  # many ties
    labels = rng.random(300) < 0.3 + 0.4 * scores
    assert rank_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_roc_auc_lesson_agrees_with_sklearn_and_fails_on_wrong_predictions(one_torch_thread):
    lesson = find_lesson("roc-auc")
    result = run_lesson(lesson)
    run = result.session.runs[0]
    probs, labels = run.arrays["metrics/probs"], run.arrays["metrics/labels"]
    assert result.value == pytest.approx(roc_auc_score(labels, probs[:, 1]), abs=1e-9)
    assert result.value == pytest.approx(run.arrays["metrics/roc_auc"][-1][0], abs=1e-9)  # the Metrics view's AUC
    # Fed predictions that rank the classes the wrong way round, the check reports ✗.
    run.arrays["metrics/probs"] = probs[:, ::-1].copy()
    wrong = check_result(lesson, result.session)
    assert not wrong.passed and wrong.value == pytest.approx(1 - result.value, abs=1e-9)
    assert wrong.sentence.startswith("ROC AUC = ") and "ranks the cases poorly" in wrong.sentence


def test_loss_vs_accuracy_lesson_agrees_with_the_curves_and_fails_when_accuracy_falls(one_torch_thread):
    lesson = find_lesson("loss-vs-accuracy")
    result = run_lesson(lesson)
    run = result.session.runs[0]
    loss, acc = run.series["epoch/val_loss"], run.series["epoch/val_acc"]
    i = int(np.argmin(loss))
    assert acc[-1] >= acc[i] - 0.01 and result.value == pytest.approx(loss[-1] / loss[i] - 1)
    # Fed curves in which accuracy falls with the rising loss, the check reports ✗.
    run.series["epoch/val_acc"] = np.where(np.arange(len(acc)) > i, acc[i] - 0.1, acc)
    wrong = check_result(lesson, result.session)
    assert not wrong.passed and wrong.value == 0.0


def test_a_check_value_of_nan_never_passes():
    lesson = find_lesson("whitening")
    assert not lesson.check.passed(math.nan)


def test_gradient_noise_lesson_agrees_with_per_sample_gradients_and_fails_on_a_wrong_measurement(one_torch_thread):
    from engine.gradnoise.measure import expected_noise, reference_subset
    from engine.lessons.metrics import model_and_data

    lesson = find_lesson("gradient-noise")
    result = run_lesson(lesson)
    run = result.session.runs[0]
    rel = run.arrays["gradient_noise/rel_var"]  # the Gradient noise view's numbers, (T, B, L)
    model, data = model_and_data(run)
    x, y = reference_subset(data.x_train, data.y_train, 512, run.config.seed)
    exact = expected_noise(model, x, y, [8, 32, 128])
    factor = np.exp(np.abs(np.log(rel[-1] / exact).mean(1)))
    assert result.passed and result.value == pytest.approx(factor.max(), rel=1e-9) and result.value < 1.5
    assert f"gave relative variances {np.exp(np.log(rel[-1, 0]).mean()):.3g}, " in result.sentence
    # Fed a measurement whose noise does not fall with the batch size, the check reports ✗.
    run.arrays["gradient_noise/rel_var"] = np.repeat(rel[:, :1], 3, axis=1)
    wrong = check_result(lesson, result.session)
    assert not wrong.passed and wrong.value > 10 and wrong.sentence.startswith("The measured gradient noise does not")
    # So does one twice too large at every batch size (a wrong reference gradient, say).
    run.arrays["gradient_noise/rel_var"] = 2 * rel
    assert not check_result(lesson, result.session).passed
