"""The compiled CPU path of the probes (engine/probes/kernels.py) agrees with the torch path
a GPU run takes, layer by layer, over several probes (ranges set, kept and grown); the
probe's own shortcuts (walking a Sequential, the update norms) give what the general code does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engine.experiment import build_trainer
from engine.probes import GrowingRange, ProbeHook, kernels
from engine.probes.layers import activation_layers, weight_layers
from engine.probes.stats import BinLayout, summarize_groups

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
BINS = 30


def _probe_series(seed: int) -> list[list[torch.Tensor]]:
    """Three probes of the same layers: the second widens layer 1, the third holds NaN/Inf."""
    g = torch.Generator().manual_seed(seed)
    base = [
        torch.relu(torch.randn(64, 32, generator=g)),
        torch.tanh(torch.randn(64, 32, generator=g) * 2),
        torch.randn(16, 3, 4, 4, generator=g),
        torch.randn(20, 12, generator=g) * 1e-3,
        torch.randn(7, generator=g),
    ]
    second = [base[0] * 1.5, base[1], base[2] * 8 - 2, base[3], base[4] + 100]
    third = [t.clone() for t in second]
    third[2][0, 1, 2, 3] = float("nan")
    third[3][4, 5] = float("inf")
    return [base, second, third]


def _run(path: str, monkeypatch, series) -> list:
    with monkeypatch.context() as m:
        if path == "torch":
            m.setattr(kernels, "AVAILABLE", False)
        kinds = ["relu", "tanh", "relu", None, None]
        ranges, layout = [GrowingRange() for _ in kinds], BinLayout()
        out = []
        for layers in series:
            acts = (layers[:3], ranges[:3], kinds[:3])
            rest = (layers[3:], ranges[3:], None)
            (a, b), _ = summarize_groups([acts, rest], BINS, layout=layout)
            out.append((a, b, [(r.lo, r.hi, r.grown) for r in ranges]))
        return out


def test_compiled_and_torch_paths_agree_over_probes(monkeypatch):
    series = _probe_series(0)
    compiled, reference = _run("compiled", monkeypatch, series), _run("torch", monkeypatch, series)
    for (ca, cb, cr), (ta, tb, tr) in zip(compiled, reference):
        np.testing.assert_allclose(np.array(cr), np.array(tr), rtol=1e-6)  # the same ranges, grown alike
        for c, t in ((ca, ta), (cb, tb)):
            # Bins: the same up to values on a bin edge (float64 here, float32 there).
            assert np.abs(c.hist - t.hist).sum(axis=1).max() <= 2
            assert np.array_equal(c.hist.sum(axis=1), t.hist.sum(axis=1))
            assert np.array_equal(c.count, t.count) and np.array_equal(c.nonfinite, t.nonfinite)
            np.testing.assert_allclose(c.range, t.range, rtol=1e-6)
            for key in ("mean", "std", "norm"):
                np.testing.assert_allclose(getattr(c, key), getattr(t, key), rtol=2e-4, atol=1e-7)
        for key in ("saturated", "dead", "unit_spread"):
            np.testing.assert_allclose(ca.extra[key], ta.extra[key], rtol=1e-5, atol=1e-7, equal_nan=True)
    # The third probe's NaN/Inf were dropped and counted on both paths.
    assert compiled[2][0].nonfinite[2] == 1 and compiled[2][1].nonfinite[0] == 1


def test_sequential_walk_and_forward_hooks_capture_the_same_activations(monkeypatch):
    """A plain Sequential is walked child by child, without hooks; the same modules in a
    Sequential with a forward of its own are run whole with forward hooks. The first probe
    of both reads the same activations."""
    from engine.config import ExperimentConfig

    class OwnForward(nn.Sequential):
        def forward(self, x):
            return super().forward(x)

    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.hidden": [24, 16],
            "train.epochs": 1,
            "device": "cpu",
            "model.activation": "tanh",
            "metrics.enabled": False,
            "diagnostics.enabled": False,
        }
    )
    walked, hooked = build_trainer(cfg), build_trainer(cfg)
    hooked.model = OwnForward(*hooked.model)  # the same modules and parameters
    hooked_modules: list[nn.Module] = []
    register = nn.Module.register_forward_hook

    def counting(module, *args, **kwargs):
        hooked_modules.append(module)
        return register(module, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "register_forward_hook", counting)
    walked.start()  # the first probe
    assert hooked_modules == []
    hooked.start()
    assert hooked_modules == [m for _, m in activation_layers(hooked.model)] and len(hooked_modules) == 2
    first = [next(h for h in t.hooks if isinstance(h, ProbeHook)).latest for t in (walked, hooked)]
    assert first[0].act.count.tolist() == [float(first[0].layers.probe_batch * n) for n in (24, 16)]
    assert first[0].act == first[1].act


@pytest.mark.usefixtures("probe_path")
def test_update_norms_against_a_previous_copy_match_torch():
    from engine.flat import FlatCopy

    g = torch.Generator().manual_seed(1)
    before = [torch.randn(5, 4, generator=g), torch.randn(3, 5, generator=g)]
    copy = FlatCopy()
    buffer = copy.take(before)
    assert buffer.numel() == 35 and torch.equal(buffer[:20].view(5, 4), before[0])
    assert torch.equal(buffer[20:].view(3, 5), before[1])
    assert copy.take([w * 1 for w in before]) is buffer  # reused while the shapes match
    assert copy.take([before[0]]).numel() == 20  # rebuilt when they change
    mixed = copy.take([before[0].double(), before[1]])  # mixed dtypes: float32
    assert mixed.dtype == torch.float32 and torch.equal(mixed[20:].view(3, 5), before[1])
    buffer = copy.take(before)
    after = [w + 0.01 * torch.randn(w.shape, generator=g) for w in before]
    acts = [torch.randn(8, 3, generator=g)]
    groups = [(acts, [GrowingRange()], ["relu"]), (after, [GrowingRange(), GrowingRange()], None)]
    (_, s), along = summarize_groups(groups, BINS, read_along=[torch.tensor([2.5])], previous=(1, buffer))
    want = [float((a - b).norm()) for a, b in zip(after, before)] + [float(b.norm()) for b in before]
    np.testing.assert_allclose(along[-1], want, rtol=1e-6)
    assert along[0].tolist() == [2.5] and s.hist.sum() == 35


def test_probed_gradients_equal_autograd_on_the_same_batch():
    """The back-propagated gradients a probe captures (retained during the training step) and
    the weight gradients are those autograd gives for that step's batch and weights."""
    from engine.config import ExperimentConfig

    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.hidden": [32, 16],
            "train.epochs": 1,
            "device": "cpu",
            "model.activation": "tanh",
            "probes.every": 3,
            "optim.name": "sgd",
            "optim.lr": 1e-12,
        }
    )  # the weights barely move
    t = build_trainer(cfg)
    hook = next(h for h in t.hooks if isinstance(h, ProbeHook))
    t.run(max_steps=3)
    snap = hook.latest
    assert snap.step == 3
    idx = t.last_batch_indices
    x, y = t.data.x_train[idx], t.data.y_train[idx]
    outs = []
    handles = [m.register_forward_hook(lambda _m, _i, o: outs.append(o)) for _, m in activation_layers(t.model)]
    loss = t.loss_fn(t.model(x), y)
    for h in handles:
        h.remove()
    want = torch.autograd.grad(loss, outs + [m.weight for _, m in weight_layers(t.model)])
    n_acts = len(outs)
    np.testing.assert_allclose(snap.agrad.norm, [float(g.norm()) for g in want[:n_acts]], rtol=1e-4)
    np.testing.assert_allclose(snap.grad.norm, [float(g.norm()) for g in want[n_acts:]], rtol=1e-4)
    assert snap.agrad.count.tolist() == [float(o.numel()) for o in outs]


def test_layers_read_in_place_or_copied_when_they_cannot_be(monkeypatch):
    """The kernel reads contiguous float32 layers where they lie; a transposed view, a float64
    or float16 layer and an empty one are copied first, with the same results as the torch path."""
    g = torch.Generator().manual_seed(3)
    base = torch.randn(40, 24, generator=g)
    layers = [
        base.t(),
        base[:, ::2],
        torch.randn(30, 5, generator=g, dtype=torch.float64),
        torch.randn(50, generator=g).half(),
        torch.zeros(0),
        base,
    ]
    assert not layers[0].is_contiguous() and not layers[1].is_contiguous()
    got = {}
    for path in ("compiled", "torch"):
        with monkeypatch.context() as m:
            if path == "torch":
                m.setattr(kernels, "AVAILABLE", False)
            (got[path],), _ = summarize_groups([(layers, [GrowingRange() for _ in layers], None)], BINS)
    c, t = got["compiled"], got["torch"]
    assert c.count.tolist() == t.count.tolist() == [960, 480, 150, 50, 0, 960]
    assert np.abs(c.hist - t.hist).sum(axis=1).max() <= 2
    np.testing.assert_allclose(c.std, t.std, rtol=2e-4, equal_nan=True)
    np.testing.assert_allclose(c.mean[:2], [float(base.mean()), float(base[:, ::2].mean())], rtol=1e-5)


def test_the_kernel_reads_raw_memory_only_in_the_form_it_expects():
    """Layers that are not contiguous float32 CPU tensors are copied into that form before the
    kernel reads them; earlier values that do not cover a compared layer are refused."""
    ok = torch.randn(4, 5)

    def run(layer, prev=None, prev_starts=None):
        return kernels.summarize(
            [layer],
            np.full(1, np.nan),
            np.full(1, np.nan),
            np.zeros(1),
            np.full(1, -1, np.int64),
            np.ones((1, 3), np.int64),
            np.zeros(1),
            np.zeros(1),
            8,
            BINS,
            prev,
            prev_starts,
        )

    want_hist, want, _ = run(ok)
    assert want_hist.sum() == 20
    for other in (ok.t().contiguous().t(), ok.double(), ok.t().t()):
        hist, res, _ = run(other)
        assert np.array_equal(hist, want_hist) and np.allclose(res[:, kernels.SUM], want[:, kernels.SUM])
    run(ok, np.zeros(20, np.float32), np.zeros(1, np.int64))  # covers the layer
    for prev in (np.zeros(19, np.float32), np.zeros(20, np.float64), np.zeros((4, 5), np.float32)):
        with pytest.raises(ValueError, match="flat float32 array covering"):
            run(ok, prev, np.zeros(1, np.int64))


def test_a_kernel_that_fails_falls_back_to_the_torch_path_with_a_warning(monkeypatch, failing_kernel):
    monkeypatch.setattr(kernels, "AVAILABLE", True)  # restored after the test (disable() clears it)
    monkeypatch.setattr(kernels, "summarize", failing_kernel)
    layers = [torch.randn(30, 5), torch.randn(7)]
    with pytest.warns(RuntimeWarning, match="LLVM cannot compile here"):
        (s,), _ = summarize_groups([(layers, [GrowingRange(), GrowingRange()], None)], BINS)
    assert not kernels.AVAILABLE and s.hist.sum(axis=1).tolist() == [150, 7]


@pytest.mark.usefixtures("probe_path")
def test_update_ratio_is_the_sgd_step_over_the_weights_before_it():
    from engine.config import ExperimentConfig

    lr = 0.05
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.hidden": [32, 16],
            "train.epochs": 1,
            "device": "cpu",
            "probes.every": 3,
            "optim.name": "sgd",
            "optim.lr": lr,
        }
    )
    t = build_trainer(cfg)
    hook = next(h for h in t.hooks if isinstance(h, ProbeHook))
    t.run(max_steps=3)
    snap = hook.latest
    assert snap.step == 3
    for i, (_, m) in enumerate(weight_layers(t.model)):  # plain SGD: W_before = W_after + lr · grad
        w, g = m.weight.detach().double(), m.weight.grad.double()
        want = float((lr * g).norm() / (w + lr * g).norm())
        assert snap.update_ratio[i] == pytest.approx(want, rel=1e-3)


def test_previous_values_of_the_wrong_size_are_refused():
    layers = [torch.randn(4, 3)]
    with pytest.raises(ValueError, match="previous values: 5 for layers of 12 values"):
        summarize_groups([(layers, [GrowingRange()], None)], BINS, previous=(0, torch.zeros(5)))
