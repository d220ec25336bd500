"""Loss landscapes: surfaces equal direct evaluation, filter normalization, PCA planes,
projection faithfulness, sharpness against a dense Hessian, chunking and refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import vector_to_parameters

from engine.config import ExperimentConfig
from engine.landscape import surface as surface_module
from engine.landscape.directions import filter_normalized_direction, init_plane, pca_plane, random_plane
from engine.landscape.interpolation import line_losses
from engine.landscape.params import LandscapeError, ParamLayout, flat_params
from engine.landscape.projection import in_plane_fraction, project
from engine.landscape.sharpness import hvp_function, top_hessian_eigenvalue
from engine.landscape.surface import SurfaceEvaluator, compute_surface, grid_levels
from engine.landscape.trajectory import TrajectoryBuffer
from engine.model import build_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(batch_norm: str = "off", hidden=(16, 12), n_in: int = 6, n_out: int = 3, seed: int = 0):
    # output_init=same: output weights of a trained network's size (a fresh small output
    # layer gives a nearly flat surface around init, under filter-normalized directions too)
    cfg = ExperimentConfig().with_updates(
        {"model.hidden": list(hidden), "model.batch_norm": batch_norm, "model.output_init": "same"}
    )
    m = build_model(cfg.model, n_in, n_out, seed)
    if batch_norm != "off":
        # Non-trivial running statistics, as after training.
        m.train()
        with torch.no_grad():
            for _ in range(5):
                m(torch.randn(32, n_in) * 2 + 0.5)
    return m.eval()


def _data(n: int = 40, n_in: int = 6, n_out: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, n_in, generator=g), torch.randint(0, n_out, (n,), generator=g)


def _direct(model, vec, x, y) -> float:
    m = __import__("copy").deepcopy(model).eval()
    vector_to_parameters(vec, m.parameters())
    with torch.no_grad():
        return float(F.cross_entropy(m(x), y))


@pytest.mark.parametrize("batch_norm", ["off", "before"])
@pytest.mark.parametrize("mode", ["linear-loop", "linear-vmap", "loop", "vmap"])
def test_surface_equals_direct_evaluation_at_20_points(batch_norm, mode):
    model = _model(batch_norm)
    x, y = _data()
    layout = ParamLayout.of(model)
    plane = random_plane(flat_params(model), layout, seed=3)
    ev = SurfaceEvaluator(model, x, y, mode=mode, max_chunk=7)
    surf = None
    for step in compute_surface(ev, plane, 11, 1.0):
        surf, _, frac = step
    assert frac == 1.0 and surf.complete
    rng = np.random.default_rng(0)
    picks = rng.choice(11 * 11, 20, replace=False)
    errs = []
    for p in picks:
        i, j = divmod(int(p), 11)
        vec = plane.center + float(surf.alphas[i]) * plane.d1 + float(surf.betas[j]) * plane.d2
        ref = _direct(model, vec, x, y)
        errs.append(abs(surf.loss[i, j] - ref) / abs(ref))
    assert max(errs) <= 1e-5, (mode, batch_norm, max(errs))
    # The surface is not flat: the test would notice swapped directions.
    assert np.ptp(surf.loss) > 0.1


def test_batch_norm_uses_running_statistics():
    model = _model("before")
    x, y = _data()
    ev = SurfaceEvaluator(model, x[:5], y[:5], mode="linear-loop")
    c = flat_params(model)
    loss, _ = ev.evaluate_points(c)
    with torch.no_grad():
        eval_loss = float(F.cross_entropy(model.eval()(x[:5]), y[:5]))
        train_loss = float(F.cross_entropy(__import__("copy").deepcopy(model).train()(x[:5]), y[:5]))
    assert abs(loss[0] - eval_loss) < 1e-5 and abs(loss[0] - train_loss) > 1e-3


def test_filter_normalization_matches_each_filter_norm():
    model = _model("before", hidden=(9, 7))
    layout = ParamLayout.of(model)
    w = flat_params(model)
    d = filter_normalized_direction(torch.randn(w.shape), w, layout, zero_bias=True)
    dv, wv = layout.split(d), layout.split(w)
    checked = 0
    for name in layout.names:
        if layout.is_bias_like(name):
            assert float(dv[name].abs().max()) == 0.0, name  # biases and BN zeroed
            continue
        dn = dv[name].reshape(dv[name].shape[0], -1).norm(dim=1)
        wn = wv[name].reshape(wv[name].shape[0], -1).norm(dim=1)
        assert torch.allclose(dn, wn, rtol=1e-5), name
        checked += dn.numel()
    assert checked == 9 + 7 + 3
    d2 = filter_normalized_direction(torch.randn(w.shape), w, layout, zero_bias=False)
    for name in layout.names:
        if layout.is_bias_like(name) and float(layout.split(w)[name].norm()) > 0:
            assert abs(float(layout.split(d2)[name].norm()) - float(layout.split(w)[name].norm())) < 1e-4


def test_pca_reproduces_a_planar_trajectory_exactly():
    g = torch.Generator().manual_seed(0)
    P = 500
    center = torch.randn(P, generator=g)
    u, v = torch.randn(P, generator=g), torch.randn(P, generator=g)
    t = torch.linspace(0, 3, 60)
    coeff_a, coeff_b = torch.cos(t) * 2.0, torch.sin(2 * t)
    traj = center + coeff_a[:, None] * u + coeff_b[:, None] * v
    plane = pca_plane(traj, center)
    assert sum(plane.explained_variance) == pytest.approx(1.0, abs=1e-6)
    coords, resid = project(plane, traj)
    rebuilt = center.double() + torch.as_tensor(coords) @ torch.stack([plane.d1, plane.d2]).double()
    assert float((rebuilt - traj.double()).abs().max()) < 1e-4
    assert float(resid.max()) < 1e-3 * float(traj.norm(dim=1).max())
    assert in_plane_fraction(plane, traj) == pytest.approx(1.0, abs=1e-5)
    # A random plane through the same center shows almost none of the motion.
    layout = ParamLayout(("w",), ((P,),), (0,))
    rp = random_plane(center, layout, seed=1, zero_bias=False)
    assert in_plane_fraction(rp, traj) < 0.2


def test_init_plane_puts_init_at_minus_one():
    model = _model()
    layout = ParamLayout.of(model)
    c = flat_params(model)
    init = c + 0.1 * torch.randn(c.shape)
    plane = init_plane(init, c, layout)
    coords, resid = project(plane, init[None])
    assert coords[0] == pytest.approx([-1.0, 0.0], abs=1e-4) and resid[0] < 1e-3
    assert abs(float(plane.d1.double() @ plane.d2.double())) < 1e-3 * float(plane.d1.norm()) ** 2


@pytest.mark.parametrize("method", ["vjp", "jvp"])
def test_top_eigenvalue_matches_dense_hessian(method):
    model = _model(hidden=(5,), n_in=3, n_out=2)
    x, y = _data(n=30, n_in=3, n_out=2)
    layout = ParamLayout.of(model)
    theta = flat_params(model).double()

    def loss_of(flat):
        p = layout.split(flat)
        h = torch.relu(x.double() @ p["1.weight"].T + p["1.bias"])
        return F.cross_entropy(h @ p["3.weight"].T + p["3.bias"], y)

    H = torch.autograd.functional.hessian(loss_of, theta)
    exact = float(torch.linalg.eigvalsh(H)[-1])
    with torch.no_grad():  # the products must not depend on the caller's grad mode
        lam, vec, used = top_hessian_eigenvalue(model, x, y, iters=2000, tol=1e-10, method=method)
    assert exact > 0 and abs(lam - exact) / exact < 1e-3, (lam, exact, used)
    assert float(vec.norm()) == pytest.approx(1.0, abs=1e-4)
    # H·v itself against the dense Hessian, and the model left as it was
    v = torch.randn(layout.size, generator=torch.Generator().manual_seed(3))
    model.train()
    hv, n = hvp_function(model, x, y, method)
    assert n == layout.size
    assert torch.allclose(hv(v).double(), H @ v.double(), rtol=1e-4, atol=1e-6)
    assert model.training and all(p.grad is None for p in model.parameters())


def test_hvp_refuses_unknown_method_and_parameterless_models():
    x, y = _data(n=8, n_in=3, n_out=2)
    with pytest.raises(LandscapeError, match="unknown Hessian-vector method 'fd'"):
        hvp_function(_model(hidden=(4,), n_in=3, n_out=2), x, y, "fd")
    frozen = _model(hidden=(4,), n_in=3, n_out=2).requires_grad_(False)
    with pytest.raises(LandscapeError, match="no trainable parameters"):
        top_hessian_eigenvalue(frozen, x, y)


def test_trajectory_buffer_thins_and_stays_bounded():
    buf = TrajectoryBuffer(n_params=3, every=5, capacity=8)
    for step in range(0, 400):
        if buf.wants(step):
            buf.add(step, torch.full((3,), float(step)))
    assert len(buf) <= 8 and buf.thinned >= 3
    steps = buf.steps
    assert steps[0] == 0 and np.all(np.diff(steps) == buf.every)
    assert np.allclose(buf.params[:, 0], steps)


def test_oom_halves_the_chunk_and_results_stay_exact(monkeypatch):
    model = _model()
    x, y = _data()
    plane = random_plane(flat_params(model), ParamLayout.of(model), seed=0)
    a, b = np.linspace(-1, 1, 30), np.linspace(1, -1, 30)
    ref, _ = SurfaceEvaluator(model, x, y, mode="vmap").evaluate_plane(plane, a, b)
    ev = SurfaceEvaluator(model, x, y, mode="vmap", max_chunk=32)
    real_vmap = surface_module.vmap

    def flaky_vmap(fn):
        """The evaluator's batched call, out of memory above 4 points."""
        batched = real_vmap(fn)

        def call(vecs):
            if vecs.shape[0] > 4:
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
            return batched(vecs)

        return call

    monkeypatch.setattr(surface_module, "vmap", flaky_vmap)
    got, _ = ev.evaluate_plane(plane, a, b)
    assert ev.chunk == 4 and np.allclose(got, ref, rtol=1e-6)


def test_grid_levels_are_nested_and_coarse_first():
    levels = grid_levels(41)
    assert [len(level) for level in levels] == [6, 11, 21, 41]
    for small, big in zip(levels, levels[1:]):
        assert set(small) <= set(big)
    assert all(level[0] == 0 and level[-1] == 40 for level in levels)


def test_cancel_stops_early_and_nonfinite_weights_are_refused():
    model = _model()
    x, y = _data()
    layout = ParamLayout.of(model)
    plane = random_plane(flat_params(model), layout, seed=0)
    ev = SurfaceEvaluator(model, x, y)
    seen = []
    for _surf, _, frac in compute_surface(ev, plane, 21, 1.0, cancelled=lambda: len(seen) >= 1, batch=16):
        seen.append(frac)
    assert len(seen) == 1 and seen[0] < 0.2
    bad = flat_params(model)
    bad[3] = float("nan")
    with pytest.raises(LandscapeError, match="diverged"):
        random_plane(bad, layout)


def test_line_from_init_to_trained_weights_descends():
    model = _model()
    x, y = _data()
    start = flat_params(model)
    trained = __import__("copy").deepcopy(model).train()
    opt = torch.optim.Adam(trained.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(trained(x), y).backward()
        opt.step()
    end = flat_params(trained)
    line = line_losses(SurfaceEvaluator(model, x, y), start, end, n=21, extend=0.0)
    assert line["loss"][0] == pytest.approx(_direct(model, start, x, y), rel=1e-5)
    assert line["loss"][-1] == pytest.approx(_direct(model, end, x, y), rel=1e-5)
    assert line["loss"][-1] < 0.7 * line["loss"][0]
