"""The explorer and coarse-to-fine search setups (validated, run, their numbers those of the
explorer and the search), readable sentences from a metric's details, and the two lessons
with thin margins before, shown over more seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.config import ExperimentConfig
from engine.lessons import LessonError, find_lesson, parse_lesson, run_lesson
from engine.lessons.explorer import explore, explorer_session
from engine.lessons.schema import Change
from engine.session import load_session, save_session
from engine.tuning.storage import search_of

EXPLORER = """
id = "my-explorer"
title = "Mine"
section = 2
summary = "Small Gaussian in the Init explorer."
explanation = "The spread collapses with depth."
views = ["Init explorer"]
look_for = ["One.", "Two."]

[setup]
kind = "explorer"

[setup.explorer]
init = "normal"
init_std = 0.01
activation = "tanh"
depth = 5
width = 64
data = "wine"

[check]
metric = "explorer_depth_ratio"
below = 0.01
say = "ratio {value:.2e}"
say_not = "kept {value:.2g}"

[check.control]
text = "Xavier"
explorer = { init = "xavier_normal" }
"""


def test_an_explorer_lesson_reads_the_explorers_numbers_and_fails_with_xavier(tmp_path, one_torch_thread):
    lesson = parse_lesson(EXPLORER, "mine.toml")
    result = run_lesson(lesson)
    # The number is the Init explorer's own (the view builds its network with the same function).
    study = explore(ExperimentConfig().with_updates({"train.threads": 1}), lesson.setup.explorer.model_dump())
    assert result.value == pytest.approx(study.std[-1] / study.std[0], rel=1e-6)
    assert result.passed and result.value < 1e-3  # 0.01 · √64 ≈ 0.08 per layer: 4 steps lose ~4 decades
    control = run_lesson(lesson, lesson.check.control)
    assert not control.passed and control.value > 0.1
    # Saved and reopened, the session gives the same number.
    path = save_session(explorer_session(lesson.setup.explorer.model_dump(), study), tmp_path / "e.descent")
    back = load_session(path)
    assert back.meta["explorer"]["depth"] == 5 and len(back.meta["explorer"]["labels"]) == 5
    assert np.allclose(back.arrays["explorer/std"], study.std)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('activation = "tanh"', 'activation = "swish"'), "activation: unknown activation 'swish'"),
        (lambda t: t.replace("depth = 5", "depth = 40"), "setup.explorer.depth"),
        (lambda t: t.replace('data = "wine"', 'data = "csv"'), "data: unknown data 'csv'"),
        (lambda t: t.replace('kind = "explorer"', 'kind = "run"'), "an explorer is only for kind 'explorer'"),
        (
            lambda t: t[: t.index("[setup.explorer]")] + t[t.index("[check]") :],
            "an explorer setup needs a [setup.explorer]",
        ),
        (lambda t: t.replace('init = "xavier_normal"', 'init = "magic"'), "check.control: explorer: init"),
    ],
)
def test_a_bad_explorer_setup_is_refused_with_the_field_named(edit, message):
    with pytest.raises(LessonError) as e:
        parse_lesson(edit(EXPLORER), "mine.toml")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_bad_search_space_is_refused_with_the_key_named():
    text = find_lesson("coarse-to-fine").model_dump_json()  # the shipped file is valid
    assert '"kind":"search"' in text
    from engine.resources import resource

    src = resource("lessons", "coarse-to-fine.toml").read_text(encoding="utf-8")
    with pytest.raises(LessonError, match=r"setup.search.space: .*optim.learning_rate"):
        parse_lesson(src.replace("optim.lr=log", "optim.learning_rate=log"), "c.toml")
    with pytest.raises(LessonError, match=r"check.control: search: around"):
        parse_lesson(src.replace('around = "worst"', 'around = "middle"'), "c.toml")


def test_coarse_to_fine_refines_around_the_best_and_its_control_around_the_worst(one_torch_thread):
    lesson = find_lesson("coarse-to-fine")
    result = run_lesson(lesson)
    snap = search_of(result.session)
    assert [r.number for r in snap.rounds] == [1, 2] and snap.rounds[1].how.startswith("refined around the best 3")
    coarse = [t for t in snap.complete if t.round == 1]
    refined = [t for t in snap.complete if t.round == 2]
    assert len(coarse) == 8 and len(refined) == 6
    # The refined range is narrower than the coarse one and holds the coarse round's best lr.
    lrs = [t.params["optim.lr"] for t in refined]
    best_lr = min(coarse, key=lambda t: t.score).params["optim.lr"]
    assert max(lrs) / min(lrs) < 1e-2 * 3 / 1e-4 and min(lrs) <= best_lr * 3 and max(lrs) >= best_lr / 3
    medians = np.median([t.score for t in coarse]), np.median([t.score for t in refined])
    assert result.passed and result.value == pytest.approx(medians[0] - medians[1])
    assert "median trial's validation loss fell from" in result.sentence and "(log scale)" in result.sentence
    control = run_lesson(lesson, lesson.check.control)
    assert not control.passed and search_of(control.session).rounds[1].how.startswith("refined around the worst 3")


def test_sentences_give_the_numbers_in_words(one_torch_thread):
    lesson = find_lesson("initial-loss")
    bad = run_lesson(lesson, lesson.check.control)
    loss0 = float(bad.session.runs[0].series["step/loss"][0])
    assert "%" not in bad.sentence and f"Initial loss {loss0:.3g} vs ln C = 1.10: " in bad.sentence
    assert f"{loss0 / math.log(3):.3g}× too high" in bad.sentence
    high = find_lesson("lr-too-high")
    assert run_lesson(high).sentence.startswith("The loss diverged to NaN/Inf by step ")


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("lesson_id", ["augmentation", "lr-too-high", "bn-train-eval", "overfitting"])
def test_formerly_thin_margins_hold_over_seeds(lesson_id, seed, one_torch_thread):
    lesson = find_lesson(lesson_id)
    result = run_lesson(lesson, Change(text=f"seed {seed}", set={"seed": seed}))
    assert result.passed and result.value > 1.25 * lesson.check.above, (seed, result.value)
    cause_removed = lesson.check.control
    control = run_lesson(lesson, cause_removed.model_copy(update={"set": {**cause_removed.set, "seed": seed}}))
    assert not control.passed, (seed, control.value)
