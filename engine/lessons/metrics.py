"""The named metrics a lesson's check computes from its result (a Session).

Each metric reads what a session file stores — epoch series, probe and batch-norm arrays,
metric predictions, final weights, a race's paths — so a saved lesson gives the same number
when it is opened again. `run` names a run of the session (a comparison's variant) or a
playground racer; absent, the first run. `ratio` and `difference` combine one metric of two
runs `a` and `b`. Bad arguments raise LessonError naming the metric and the argument.
A metric may also say more than its number (`Details`: e.g. the first loss and ln C beside
their relative error), which a check's sentence can name ({loss:.3g}).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from engine.data import DataBundle, load_data
from engine.model import build_model
from engine.playground.functions import get_function
from engine.playground.race import RacerPath, nearest_minimum_distance
from engine.playground.session import playground_from_session
from engine.session import RunRecord, Session
from engine.states import RunState

Args = dict[str, Any]
Details = dict[str, float | str]


class LessonError(ValueError):
    """A lesson that cannot be read or run, with a message naming the field or argument."""


MetricFn = Callable[[Session, Args], "float | tuple[float, Details]"]


@dataclass(frozen=True)
class Metric:
    name: str
    help: str
    fn: MetricFn


METRICS: dict[str, Metric] = {}


F = TypeVar("F", bound=MetricFn)


def metric(name: str, help: str) -> Callable[[F], F]:
    def add(fn: F) -> F:
        METRICS[name] = Metric(name, help, fn)
        return fn

    return add


def compute_details(session: Session, name: str, args: Args) -> tuple[float, Details]:
    """The metric's value and what else it says (for the check's sentence); LessonError for
    an unknown metric or bad args."""
    m = METRICS.get(name)
    if m is None:
        raise LessonError(f"check.metric: unknown metric {name!r} (known: {', '.join(sorted(METRICS))})")
    out = m.fn(session, args)
    if isinstance(out, tuple):
        return float(out[0]), dict(out[1])
    return float(out), {}


def compute(session: Session, name: str, args: Args) -> float:
    """The metric's value for a lesson's result; LessonError for an unknown metric or bad args."""
    return compute_details(session, name, args)[0]


# -- argument helpers ------------------------------------------------------------------
def _arg(args: Args, key: str, default: Any = None, kinds: tuple[type, ...] = (str,)) -> Any:
    v = args.get(key, default)
    if v is None:
        raise LessonError(f"check.args.{key}: required")
    if not isinstance(v, kinds) or isinstance(v, bool) and bool not in kinds:
        raise LessonError(f"check.args.{key}: expected {' or '.join(k.__name__ for k in kinds)}, got {v!r}")
    return v


def _run(session: Session, args: Args) -> RunRecord:
    if not session.runs:
        raise LessonError("the lesson's result holds no training run")
    name = args.get("run")
    if name is None:
        return session.runs[0]
    try:
        return session.run(str(name))
    except KeyError:
        raise LessonError(
            f"check.args.run: no run named {name!r} (runs: {', '.join(r.name for r in session.runs)})"
        ) from None


def _reduce(values: np.ndarray, how: Any, what: str) -> float:
    """One number from per-layer values: max|min|mean|first|last or a layer index."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise LessonError(f"{what}: no layers")
    if isinstance(how, int) and not isinstance(how, bool):
        if not -len(v) <= how < len(v):
            raise LessonError(f"check.args.layer: {how} is out of range (the run has {len(v)} layers)")
        return float(v[how])
    reducers: dict[str, Callable[[np.ndarray], Any]] = {
        "max": np.nanmax,
        "min": np.nanmin,
        "mean": np.nanmean,
        "first": lambda a: a[0],
        "last": lambda a: a[-1],
    }
    if how not in reducers:
        raise LessonError(f"check.args.layer: expected max|min|mean|first|last or a layer index, got {how!r}")
    return float(reducers[how](v)) if not np.all(np.isnan(v)) else math.nan


def _probe_row(record: RunRecord, args: Args, stat_default: str = "std") -> np.ndarray:
    group = _arg(args, "group", "act")
    stat = _arg(args, "stat", stat_default)
    key = f"probes/{group}/{stat}" if stat != "prelu_slope" else "probes/prelu_slope"
    a = record.arrays.get(key)
    if a is None or a.ndim != 2 or a.shape[0] == 0:
        raise LessonError(f"run {record.name!r} has no probe statistic {key!r} (are probes on?)")
    at = args.get("at", "end")
    if at == "init":
        return a[0]
    if at == "end":
        return a[-1]
    raise LessonError(f"check.args.at: expected init or end, got {at!r}")


# -- probes: inside the network --------------------------------------------------------
@metric(
    "probe", "a per-layer probe statistic (group act|agrad|grad|weight, stat std|saturated|dead|...) at init or end"
)
def _probe(session: Session, args: Args) -> float:
    return _reduce(_probe_row(_run(session, args), args), args.get("layer", "max"), "probe")


@metric("depth_ratio", "last layer's activation std divided by the first layer's (at init or end)")
def _depth_ratio(session: Session, args: Args) -> float:
    row = _probe_row(_run(session, args), {**args, "group": "act", "stat": "std"})
    return float(row[-1] / row[0]) if row[0] > 0 else math.nan


@metric("depth_spread", "|log10| of the last/first layer activation std ratio: 0 = the spread is kept across depth")
def _depth_spread(session: Session, args: Args) -> float:
    r = _depth_ratio(session, args)
    return abs(math.log10(r)) if r > 0 else math.inf


@metric("prelu_change", "largest change of a PReLU slope from init to the end (0 for other activations)")
def _prelu_change(session: Session, args: Args) -> float:
    a = _run(session, args).arrays.get("probes/prelu_slope")
    if a is None or a.shape[0] < 2:
        return 0.0
    d = np.abs(a[-1] - a[0])
    return float(np.nanmax(d)) if not np.all(np.isnan(d)) else 0.0


@metric("symmetric_layers", "fraction of hidden layers whose units are all identical at the end (unbroken symmetry)")
def _symmetric_layers(session: Session, args: Args) -> float:
    from engine.probes.init_study import SYMMETRY_TOL

    row = _probe_row(_run(session, args), {**args, "group": "act", "stat": "unit_spread"})
    return float(np.mean(row < SYMMETRY_TOL))


# -- epoch series ----------------------------------------------------------------------
def _series(record: RunRecord, name: str) -> np.ndarray:
    s = record.series.get(f"epoch/{name}")
    if s is None or len(s) == 0:
        raise LessonError(f"run {record.name!r} has no epoch series {name!r}")
    return np.asarray(s, dtype=float)


@metric("epoch", "an epoch series (val_acc, train_loss, ...) at the end, its min or its max")
def _epoch(session: Session, args: Args) -> float:
    s = _series(_run(session, args), _arg(args, "series"))
    at = args.get("at", "end")
    ops: dict[str, Callable[[np.ndarray], Any]] = {
        "end": lambda a: a[-1],
        "min": np.nanmin,
        "max": np.nanmax,
        "first": lambda a: a[0],
    }
    if at not in ops:
        raise LessonError(f"check.args.at: expected end|min|max|first, got {at!r}")
    return float(ops[at](s))


@metric(
    "loss_growth", "mean minibatch loss of the last tenth of the run divided by the first minibatch's (inf: diverged)"
)
def _loss_growth(session: Session, args: Args) -> tuple[float, Details]:
    r = _run(session, args)
    loss = np.asarray(r.series.get("step/loss", np.zeros(0)), dtype=float)
    if r.state == RunState.DIVERGED or (loss.size and not np.all(np.isfinite(loss))):
        bad = np.nonzero(~np.isfinite(loss))[0]
        step = int(bad[0]) + 1 if bad.size else int(loss.size)
        return math.inf, {"what": f"diverged to NaN/Inf by step {step} (the run stopped as diverged)"}
    if loss.size < 2:
        raise LessonError(f"run {r.name!r} has fewer than 2 steps")
    tail = loss[-max(1, loss.size // 10) :]
    g = float(tail.mean() / loss[0])
    word = "rose to" if g > 1 else "fell to"
    return g, {"what": f"{word} {g:.2f}× the first minibatch's ({loss[0]:.3g} → {tail.mean():.3g})"}


@metric("initial_loss_error", "|first minibatch loss − ln C| / ln C (the sanity check: ≈ 0 at a good init)")
def _initial_loss_error(session: Session, args: Args) -> tuple[float, Details]:
    r = _run(session, args)
    loss = np.asarray(r.series.get("step/loss", np.zeros(0)), dtype=float)
    n_classes = int(r.meta.get("n_classes", 0))
    if loss.size == 0 or n_classes < 2:
        raise LessonError(f"run {r.name!r} has no first loss or class count")
    ln_c, first = math.log(n_classes), float(loss[0])
    high = first >= ln_c
    factor = first / ln_c if high else (ln_c / first if first > 0 else math.inf)
    details: Details = {"loss": first, "ln_c": ln_c, "classes": n_classes, "factor": factor}
    details["direction"] = "too high" if high else "too low"
    return abs(first - ln_c) / ln_c, details


@metric(
    "overfit_rise",
    "how far the validation loss rose above its minimum by the end (relative) while the training loss fell "
    "further; 0 otherwise",
)
def _overfit_rise(session: Session, args: Args) -> float:
    r = _run(session, args)
    v, t = _series(r, "val_loss"), _series(r, "train_loss")
    i = int(np.nanargmin(v))
    if not t[-1] < t[i]:
        return 0.0
    return float(max(0.0, v[-1] / v[i] - 1.0))


@metric(
    "loss_up_accuracy_held",
    "relative rise of the validation loss above its minimum while validation accuracy stayed at or above its "
    "value there, less `tolerance` (absolute, default 0; the metric is 0 when accuracy fell further)",
)
def _loss_up_accuracy_held(session: Session, args: Args) -> tuple[float, Details]:
    r = _run(session, args)
    loss, acc = _series(r, "val_loss"), _series(r, "val_acc")
    tolerance = float(_arg(args, "tolerance", 0.0, (int, float)))
    if not 0 <= tolerance < 1:
        raise LessonError(f"check.args.tolerance: expected a fraction in [0, 1), got {tolerance}")
    i = int(np.nanargmin(loss))
    details: Details = {"acc_at_min": float(acc[i]), "acc_end": float(acc[-1]), "epoch_min": i + 1}
    if acc[-1] + tolerance + 1e-9 < acc[i]:
        return 0.0, details
    return float(loss[-1] / loss[i] - 1.0), details


# -- the model's final weights ---------------------------------------------------------
def model_and_data(record: RunRecord) -> tuple[nn.Module, DataBundle]:
    """The run's model with its final weights and the run's data (rebuilt from its config and seed)."""
    data = load_data(record.config)
    model = build_model(
        record.config.model, data.n_features, data.n_classes, record.config.seed, input_shape=data.input_shape
    )
    state = {}
    for key, value in model.state_dict().items():
        a = record.arrays.get(f"weights/{key}")
        if a is None:
            raise LessonError(f"run {record.name!r} has no final weights ({key})")
        state[key] = torch.as_tensor(np.asarray(a)).to(value.dtype).reshape(value.shape)
    model.load_state_dict(state)
    return model, data


@torch.no_grad()
def _eval_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float(nn.functional.cross_entropy(model(x), y))


@metric("generalization_gap", "validation loss minus training loss, both in eval mode with the final weights")
def _generalization_gap(session: Session, args: Args) -> float:
    model, data = model_and_data(_run(session, args))
    return _eval_loss(model, data.x_val, data.y_val) - _eval_loss(model, data.x_train, data.y_train)


@metric("weight_norm", "L2 norm of all linear/conv weight matrices at the end")
def _weight_norm(session: Session, args: Args) -> float:
    r = _run(session, args)
    mats = [np.asarray(v, dtype=float) for k, v in r.arrays.items() if k.startswith("weights/") and np.ndim(v) >= 2]
    if not mats:
        raise LessonError(f"run {r.name!r} has no final weights")
    return float(math.sqrt(sum(float((m**2).sum()) for m in mats)))


def _noise_snapshots(record: RunRecord) -> list[Any]:
    """The run's gradient-noise measurements (probes.gradient_noise: the Gradient noise view's
    numbers), oldest first."""
    from engine.gradnoise.snapshot import from_record

    try:
        snaps = from_record(record)
    except ValueError as e:
        raise LessonError(f"run {record.name!r}: {e}") from None
    if not snaps:
        raise LessonError(f"run {record.name!r} has no gradient-noise measurements (is probes.gradient_noise on?)")
    return snaps


def _numbers(values: np.ndarray) -> str:
    return ", ".join(f"{v:.3g}" for v in values)


@metric(
    "gradient_noise_law",
    "how far the Gradient noise view's last measurement (E‖g_B − G‖²/‖G‖² per batch size, geometric mean over "
    "layers) is from its exact value computed independently from the per-sample gradients of the same subset at "
    "the final weights: the worst factor over the batch sizes (1 = exact agreement)",
)
def _gradient_noise_law(session: Session, args: Args) -> tuple[float, Details]:
    from engine.gradnoise.measure import expected_noise, reference_subset

    record = _run(session, args)
    snaps = _noise_snapshots(record)
    last = snaps[-1]
    steps = len(record.series.get("step/loss", ()))
    if last.step != steps:
        raise LessonError(
            f"run {record.name!r}: the last gradient-noise measurement (step {last.step}) is not at the final "
            f"weights (step {steps})"
        )
    sizes, n = list(last.batch_sizes), int(last.samples)
    model, data = model_and_data(record)
    x, y = reference_subset(data.x_train, data.y_train, record.config.probes.gradient_noise_samples, record.config.seed)
    if int(x.shape[0]) != n:
        raise LessonError(f"run {record.name!r}: the reference subset has {x.shape[0]} samples, the measurements {n}")
    exact = expected_noise(model, x, y, sizes)
    with np.errstate(divide="ignore", invalid="ignore"):
        measured = np.exp(np.nanmean(np.log(last.rel_var), axis=1))
        predicted = np.exp(np.nanmean(np.log(exact), axis=1))
        factor = np.maximum(measured / predicted, predicted / measured)
    value = float(np.max(factor)) if np.all(np.isfinite(factor)) else math.inf
    # over the whole run, as the view shows it: the smallest batch size against the largest
    i, j = int(np.argmin(sizes)), int(np.argmax(sizes))
    rel = np.stack([s.rel_var for s in snaps])
    ratio = float(np.nanmean(np.nanmean(rel[:, i], axis=0) / np.maximum(np.nanmean(rel[:, j], axis=0), 1e-300)))
    small, large = sizes[i], sizes[j]
    ideal = (1 / small - 1 / n) / (1 / large - 1 / n) if large < n else math.inf
    return value, {
        "sizes": ", ".join(map(str, sizes)),
        "measured": _numbers(measured),
        "exact": _numbers(predicted),
        "samples": n,
        "small": small,
        "large": large,
        "ratio": ratio,
        "ideal": ideal,
    }


# -- batch norm ------------------------------------------------------------------------
def _bn_epochs(record: RunRecord) -> np.ndarray:
    a = record.arrays.get("batchnorm/epochs")
    if a is None or a.ndim != 2 or a.shape[0] == 0:
        raise LessonError(f"run {record.name!r} has no batch-norm evaluations (is batch norm on?)")
    return a


@metric(
    "bn_train_eval_gap",
    "validation accuracy with each batch's statistics minus with the running estimates (last epoch)",
)
def _bn_train_eval_gap(session: Session, args: Args) -> float:
    r = _run(session, args)
    try:
        e = _bn_epochs(r)
    except LessonError:
        return 0.0 if not r.config.model.uses_batch_norm() else math.nan
    return float(e[-1, 4] - e[-1, 2])


@metric(
    "bn_mean_gap",
    "|μ_batch − μ_running|/σ averaged over the second half of the run's sampled steps, per batch-norm layer "
    "(reduced by `layer`; 0 without batch norm)",
)
def _bn_mean_gap(session: Session, args: Args) -> float:
    r = _run(session, args)
    a = r.arrays.get("batchnorm/mean_gap")
    if a is None or a.size == 0:
        return 0.0
    return _reduce(np.nanmean(a[len(a) // 2 :], axis=0), args.get("layer", "mean"), "bn_mean_gap")


# -- data ------------------------------------------------------------------------------
@metric("input_correlation", "largest |correlation| between two input features of the preprocessed training data")
def _input_correlation(session: Session, args: Args) -> float:
    x = load_data(_run(session, args).config).x_train.numpy().astype(float)
    c = np.corrcoef(x, rowvar=False)
    np.fill_diagonal(c, 0.0)
    return float(np.nanmax(np.abs(c)))


# -- classification metrics ------------------------------------------------------------
def rank_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC as the Mann–Whitney statistic: the probability that a random positive scores
    above a random negative (ties count one half)."""
    scores, positive = np.asarray(scores, float), np.asarray(positive, bool)
    pos, neg = scores[positive], scores[~positive]
    if pos.size == 0 or neg.size == 0:
        return math.nan
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    allv = np.concatenate([pos, neg])[order]
    ranks = np.empty(allv.size)
    i = 0
    while i < allv.size:  # average ranks over ties
        j = i
        while j + 1 < allv.size and allv[j + 1] == allv[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    r = np.empty(allv.size)
    r[order] = ranks
    return float((r[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def _predictions(record: RunRecord) -> tuple[np.ndarray, np.ndarray]:
    probs, labels = record.arrays.get("metrics/probs"), record.arrays.get("metrics/labels")
    if probs is None or labels is None:
        raise LessonError(f"run {record.name!r} has no stored predictions (are metrics on?)")
    return np.asarray(probs, float), np.asarray(labels)


@metric(
    "roc_auc", "ROC AUC of the last evaluation from the stored predictions (binary: class 1; else macro one-vs-rest)"
)
def _roc_auc(session: Session, args: Args) -> float:
    probs, labels = _predictions(_run(session, args))
    classes = [1] if probs.shape[1] == 2 else list(range(probs.shape[1]))
    return float(np.nanmean([rank_auc(probs[:, c], labels == c) for c in classes]))


@metric("auc_minus_accuracy", "ROC AUC minus accuracy of the last evaluation: how differently they judge the model")
def _auc_minus_accuracy(session: Session, args: Args) -> float:
    probs, labels = _predictions(_run(session, args))
    return _roc_auc(session, args) - float(np.mean(probs.argmax(1) == labels))


# -- tiny subset -----------------------------------------------------------------------
@metric("tiny_subset_accuracy", "best training accuracy reached when the run's model overfits 20 samples for 300 steps")
def _tiny_subset_accuracy(session: Session, args: Args) -> float:
    from engine.diagnostics.sanity import overfit_tiny_subset

    r = _run(session, args)
    res = overfit_tiny_subset(r.config, n_samples=int(args.get("n_samples", 20)), max_steps=int(args.get("steps", 300)))
    return res.accuracy


# -- playground ------------------------------------------------------------------------
def _racer(session: Session, args: Args) -> tuple[RacerPath, Any]:
    try:
        cfg, paths = playground_from_session(session)
    except ValueError as e:
        raise LessonError(str(e)) from None
    label = _arg(args, "run")
    for p in paths:
        if p.label == label:
            return p, cfg
    raise LessonError(f"check.args.run: no racer named {label!r} (racers: {', '.join(p.label for p in paths)})")


@metric("race_loss", "a racer's mean loss over its last tenth of steps (inf if it diverged)")
def _race_loss(session: Session, args: Args) -> float:
    p, _ = _racer(session, args)
    if p.status == RunState.DIVERGED:
        return math.inf
    return float(p.losses[-max(1, len(p.losses) // 10) :].mean())


@metric("race_distance", "a racer's final distance to the nearest minimum")
def _race_distance(session: Session, args: Args) -> float:
    p, cfg = _racer(session, args)
    return nearest_minimum_distance(get_function(cfg.function), cfg.params, p.positions[-1])


@metric("race_steps_to", "the first step at which a racer's loss is below `level` (steps + 1 if never)")
def _race_steps_to(session: Session, args: Args) -> float:
    p, _ = _racer(session, args)
    level = float(_arg(args, "level", kinds=(int, float)))
    below = np.nonzero(p.losses < level)[0]
    return float(below[0]) if below.size else float(len(p.losses))


@metric("race_step_shrink", "a racer's mean update length over its last tenth of steps divided by its first tenth's")
def _race_step_shrink(session: Session, args: Args) -> float:
    p, _ = _racer(session, args)
    n = np.linalg.norm(p.updates, axis=1)
    k = max(1, len(n) // 10)
    return float(n[-k:].mean() / max(n[:k].mean(), 1e-300))


# -- the Init explorer ----------------------------------------------------------------
def _explorer_row(session: Session, stat: str) -> np.ndarray:
    from engine.lessons.explorer import explorer_numbers

    try:
        return explorer_numbers(session, stat)
    except ValueError as e:
        raise LessonError(f"check.args.stat: {e}" if "statistic" in str(e) else str(e)) from None


@metric(
    "explorer",
    "a per-layer number of the Init explorer at init (stat std|saturated|dead|symmetric), reduced by `layer` "
    "(max|min|mean|first|last or an index; default max)",
)
def _explorer(session: Session, args: Args) -> tuple[float, Details]:
    row = _explorer_row(session, str(_arg(args, "stat", "saturated")))
    value = _reduce(row, args.get("layer", "max"), "explorer")
    state = session.meta.get("explorer", {})
    details: Details = {k: v for k, v in state.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    details["layers"] = int(row.size)
    return value, details


@metric("explorer_depth_ratio", "the Init explorer's last-layer activation std divided by the first layer's")
def _explorer_depth_ratio(session: Session, args: Args) -> float:
    row = _explorer_row(session, "std")
    return float(row[-1] / row[0]) if row[0] > 0 else math.nan


# -- coarse-to-fine search ------------------------------------------------------------
def _search(session: Session) -> Any:
    from engine.tuning.snapshot import SearchFileError
    from engine.tuning.storage import search_of

    try:
        snap = search_of(session)
    except SearchFileError as e:
        raise LessonError(str(e)) from None
    if snap is None or len(snap.rounds) < 2:
        raise LessonError("the lesson's result holds no coarse-to-fine search (two rounds)")
    return snap


@metric(
    "refine_gain",
    "the coarse round's validation loss minus the refined round's (`of` = median, default, or best): > 0 when "
    "the refined round's trials score better",
)
def _refine_gain(session: Session, args: Args) -> tuple[float, Details]:
    snap = _search(session)
    of = _arg(args, "of", "median")
    if of not in ("median", "best"):
        raise LessonError(f"check.args.of: expected median or best, got {of!r}")
    rounds = [sorted(t.score for t in snap.complete if t.round == n) for n in (1, 2)]
    if not rounds[0] or not rounds[1]:
        return math.nan, {}
    c, r = snap.best(1, round=1)[0], snap.best(1, round=2)[0]
    key = snap.keys()[0]
    rng = next((t.split("=", 1)[1] for t in snap.rounds[1].space if t.split("=", 1)[0] == key), "")
    medians = [float(np.median(scores)) for scores in rounds]
    details: Details = {
        "coarse": c.score,
        "refined": r.score,
        "coarse_median": medians[0],
        "refined_median": medians[1],
        "key": key,
        "coarse_best": _param_text(c.params.get(key)),
        "refined_best": _param_text(r.params.get(key)),
        "range": _range_text(rng),
        "how": snap.rounds[1].how,
    }
    value = medians[0] - medians[1] if of == "median" else c.score - r.score
    return value, details


def _param_text(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _range_text(text: str) -> str:
    """A space item's range for a sentence: "log:0.0374:0.213" → "0.0374–0.213 (log scale)"."""
    scale, _, rest = text.partition(":")
    lo, sep, hi = rest.partition(":")
    try:
        return f"{float(lo):.3g}–{float(hi):.3g}" + (" (log scale)" if scale == "log" else "") if sep else text
    except ValueError:
        return text


# -- combinations ----------------------------------------------------------------------
def _pair(session: Session, args: Args) -> tuple[float, float]:
    of = _arg(args, "of")
    if of in ("ratio", "difference") or of not in METRICS:
        raise LessonError(f"check.args.of: expected a metric name, got {of!r}")
    rest = {k: v for k, v in args.items() if k not in ("of", "a", "b")}
    a = compute(session, of, {**rest, "run": _arg(args, "a")})
    b = compute(session, of, {**rest, "run": _arg(args, "b")})
    return a, b


@metric("ratio", "metric `of` for run `a` divided by the same for run `b`")
def _ratio(session: Session, args: Args) -> float:
    a, b = _pair(session, args)
    if b == 0:
        return math.inf if a > 0 else math.nan
    return a / b


@metric("difference", "metric `of` for run `a` minus the same for run `b`")
def _difference(session: Session, args: Args) -> float:
    a, b = _pair(session, args)
    return a - b
