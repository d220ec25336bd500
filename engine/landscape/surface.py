"""Loss and accuracy of the real network at many points of weight space, batched.

Four strategies, chosen automatically (`mode="auto"`):
- "linear-vmap" / "linear-loop": for a model that starts Flatten → Linear, the first
  layer's pre-activations are linear in the plane coordinates,
  W1(θ0 + a·d1 + b·d2)x = base + a·P + b·Q, so three matrix products serve the whole
  grid and only the rest of the network runs per point.
- "vmap": the whole network under torch.func.vmap(functional_call) over the points,
  in chunks sized from the free memory. On a GPU the default is batched: "linear-vmap"
  (or "vmap" when the model does not start Flatten → Linear); not yet measured on a GPU —
  tests/benchmarks/device_check.py times every strategy there and names the fastest.
- "loop": one forward pass per point. On a CPU with one thread the loop matches or beats
  vmap, more so under load (tests/benchmarks/bench_landscape.py), so the default with one
  CPU thread is "linear-loop"; with several
  threads the many small ops of a loop stall on OpenMP barriers and "linear-vmap" wins.
  "loop" is also the fallback when vmap cannot run a layer.
The per-point loops bind the model's parameters to views of one flat buffer, so a new
point costs two vector updates and a forward pass (no copies, no functional_call).
The model is in eval mode (batch norm uses its running statistics, dropout is off) and
buffers travel with functional_call, so any layer that keeps buffers works.
"""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from engine.landscape.directions import Plane
from engine.landscape.params import LandscapeError, ParamLayout, check_finite

CPU_MAX_CHUNK = 64  # bigger chunks stop paying off on a CPU (they leave the cache)


def available_memory(device: torch.device) -> int:
    """Free bytes on the device (CUDA: mem_get_info plus what PyTorch's caching allocator
    holds unused; CPU: MemAvailable)."""
    if device.type == "cuda":
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(torch.cuda.mem_get_info(device)[0] + max(0, cached))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower() or isinstance(e, MemoryError)


MODES = ("auto", "linear-loop", "linear-vmap", "loop", "vmap")


class SurfaceEvaluator:
    """Evaluates one architecture at many weight vectors on a fixed evaluation set."""

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        device: torch.device | str | None = None,
        mode: str = "auto",
        max_chunk: int | None = None,
        memory_fraction: float = 0.25,
    ) -> None:
        if mode not in MODES:
            raise LandscapeError(f"unknown evaluation mode '{mode}' (expected one of {', '.join(MODES)})")
        self.device = torch.device(device) if device is not None else x.device
        self.model = copy.deepcopy(model).to(self.device).eval()
        self.layout = ParamLayout.of(self.model)
        for p in self.model.parameters():
            p.requires_grad_(False)
        for mod in self.model.modules():  # our copy never needs the activations' inputs
            if isinstance(mod, (nn.ReLU, nn.LeakyReLU, nn.ReLU6, nn.ELU, nn.Hardtanh)):
                mod.inplace = True
        self.buffers = {n: b for n, b in self.model.named_buffers()}
        self.x = x.to(self.device)
        self.y = y.to(self.device)
        self.n = int(self.x.shape[0])
        if self.n == 0:
            raise LandscapeError("the evaluation set is empty")
        self.memory_fraction = memory_fraction
        self.max_chunk = max_chunk or (CPU_MAX_CHUNK if self.device.type == "cpu" else 4096)
        self._first = self._split_first_linear()
        if mode == "auto":
            # GPU, or several CPU threads: batched (vmap) — few large ops amortize the
            # per-op threading cost. One CPU thread: the per-point loop (cache-friendly), as
            # fast as vmap on a quiet machine and faster on a loaded one
            # (tests/benchmarks/bench_landscape.py times each strategy).
            batched = self.device.type != "cpu" or torch.get_num_threads() > 1
            mode = ("linear-" if self._first is not None else "") + ("vmap" if batched else "loop")
        if mode.startswith("linear") and self._first is None:
            raise LandscapeError(f"the '{mode}' evaluator needs a model that starts with Flatten → Linear")
        self.mode = mode
        # Per-point loops: the model's parameters become views of one flat buffer.
        self._buf = torch.zeros(self.layout.size, device=self.device)
        params = dict(self.model.named_parameters())
        for name, view in self.layout.split(self._buf).items():
            params[name].data = view
        self._act_width = sum(m.out_features for m in self.model.modules() if isinstance(m, nn.Linear)) or 1024
        self.chunk = self._initial_chunk()

    # -- set-up ----------------------------------------------------------------------------
    def _split_first_linear(self) -> dict | None:
        """The Flatten → Linear head split from the rest of a Sequential, or None."""
        m = self.model
        if not isinstance(m, nn.Sequential):
            return None
        # The direct children in order, a module used twice listed at each place (as the
        # Sequential runs it; named_children would list it once).
        items = [(k, c) for k, c in m.named_modules(remove_duplicate=False) if k and "." not in k]
        i = 0
        while i < len(items) and isinstance(items[i][1], (nn.Flatten, nn.Identity)):
            i += 1
        if i >= len(items) or not isinstance(items[i][1], nn.Linear) or items[i][1].bias is None:
            return None
        key = items[i][0]
        w, b = f"{key}.weight", f"{key}.bias"
        if w not in self.layout.names or b not in self.layout.names:
            return None
        with torch.no_grad():
            x0 = nn.Sequential(OrderedDict(items[:i]))(self.x).float()
        return {"w": w, "b": b, "rest": nn.Sequential(OrderedDict(items[i + 1 :])), "x0": x0}

    @property
    def _head(self) -> dict:
        """The split-off first layer (the linear modes only have one)."""
        assert self._first is not None
        return self._first

    def _rest_parts(self) -> tuple[torch.Tensor, ParamLayout]:
        """Indices (in the full vector) and layout of the parameters after the first Linear."""
        f = self._head
        names = [n for n in self.layout.names if n not in (f["w"], f["b"])]
        shapes = tuple(self.layout.shapes[self.layout.names.index(n)] for n in names)
        sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
        idx = (
            torch.cat([torch.arange(self.layout.slice(n).start, self.layout.slice(n).stop) for n in names])
            if names
            else torch.zeros(0, dtype=torch.long)
        )
        return idx.to(self.device), ParamLayout(
            tuple(names), shapes, tuple(int(o) for o in np.cumsum([0] + sizes)[:-1])
        )

    def _bytes_per_point(self) -> int:
        return 4 * (self.layout.size + 3 * self.n * self._act_width)

    def _initial_chunk(self) -> int:
        budget = available_memory(self.device) * self.memory_fraction
        return int(max(1, min(self.max_chunk, budget // max(1, self._bytes_per_point()))))

    # -- evaluation ------------------------------------------------------------------------
    def _point_metrics(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.cross_entropy(out, self.y), (out.argmax(-1) == self.y).float().mean()

    def _vmap_points(self, vecs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        layout, buffers, x = self.layout, self.buffers, self.x

        def one(vec):
            return self._point_metrics(functional_call(self.model, (layout.split(vec), buffers), (x,)))

        return vmap(one)(vecs)

    def _loop_plane(self, pl: Plane, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        buf, losses, accs = self._buf, [], []
        for ak, bk in zip(a.tolist(), b.tolist()):
            torch.add(pl.center, pl.d1, alpha=ak, out=buf).add_(pl.d2, alpha=bk)
            lo, ac = self._point_metrics(self.model(self.x))
            losses.append(lo)
            accs.append(ac)
        return torch.stack(losses), torch.stack(accs)

    def _first_layer_basis(self, pl: Plane) -> torch.Tensor:
        """(3, n, out): the first layer's pre-activations at center, along d1, along d2."""
        f = self._head
        sw, sb = self.layout.slice(f["w"]), self.layout.slice(f["b"])
        shape = self.layout.shapes[self.layout.names.index(f["w"])]
        return torch.stack([f["x0"] @ v[sw].reshape(shape).T + v[sb] for v in (pl.center, pl.d1, pl.d2)])

    def _linear_loop_plane(self, pl: Plane, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        basis = self._first_layer_basis(pl)
        rest = self._head["rest"]
        # Only the parameters after the first layer change per point (rest never reads
        # the first layer's, so they stay stale in the buffer).
        idx, _ = self._rest_parts()
        if len(idx) and int(idx[-1] - idx[0]) + 1 == len(idx):
            sl = slice(int(idx[0]), int(idx[-1]) + 1)
            buf, c, d1, d2 = self._buf[sl], pl.center[sl], pl.d1[sl], pl.d2[sl]
        else:
            buf, c, d1, d2 = self._buf, pl.center, pl.d1, pl.d2
        z = torch.empty_like(basis[0])
        losses, accs = [], []
        for ak, bk in zip(a.tolist(), b.tolist()):
            torch.add(basis[0], basis[1], alpha=ak, out=z).add_(basis[2], alpha=bk)
            torch.add(c, d1, alpha=ak, out=buf).add_(d2, alpha=bk)
            lo, ac = self._point_metrics(rest(z))
            losses.append(lo)
            accs.append(ac)
        return torch.stack(losses), torch.stack(accs)

    def _linear_vmap_plane(self, pl: Plane, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        basis = self._first_layer_basis(pl)
        coeff = torch.stack([torch.ones_like(a), a, b], 1)  # (K, 3)
        z = (coeff @ basis.reshape(3, -1)).reshape(len(a), *basis.shape[1:])
        idx, rl = self._rest_parts()
        rest_vecs = pl.center[idx] + a[:, None] * pl.d1[idx] + b[:, None] * pl.d2[idx]
        rest, buffers = self._head["rest"], self.buffers

        def one(zk, vec):
            return self._point_metrics(functional_call(rest, (rl.split(vec), buffers), (zk,)))

        return vmap(one)(z, rest_vecs)

    def _run_chunked(
        self, k: int, fn: Callable[[slice], tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate k points in chunks; halve the chunk on out-of-memory; fall back to the
        per-point loop when vmap cannot run a layer."""
        loss = np.empty(k, dtype=np.float64)
        acc = np.empty(k, dtype=np.float64)
        s = 0
        while s < k:
            e = min(k, s + self.chunk)
            oom = False
            try:
                with torch.no_grad():
                    lo, ac = fn(slice(s, e))
            except (RuntimeError, MemoryError) as err:
                if _is_oom(err) and self.chunk > 1:
                    self.chunk = max(1, self.chunk // 2)
                    oom = True
                elif self.mode.endswith("vmap"):
                    self.mode = self.mode.replace("vmap", "loop")
                    continue
                else:
                    raise LandscapeError(
                        f"surface evaluation failed ({self.mode}, chunk {self.chunk}): {err}"
                    ) from None
            if oom:
                # Outside the except clause: the failed chunk's tensors (held by the
                # traceback) are gone, so the cache can really be returned.
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            # One device→host copy per chunk (no per-point synchronization).
            loss[s:e] = lo.double().cpu().numpy()
            acc[s:e] = ac.double().cpu().numpy()
            s = e
        return loss, acc

    def evaluate_points(self, vecs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Loss and accuracy at each row of vecs (K, P)."""
        vecs = torch.as_tensor(vecs, dtype=torch.float32)
        if vecs.ndim == 1:
            vecs = vecs[None]
        if vecs.shape[-1] != self.layout.size:
            raise LandscapeError(f"weight vectors have {vecs.shape[-1]} entries, the model {self.layout.size}")

        def fn(sl: slice):
            v = vecs[sl].to(self.device)
            return self._vmap_points(v) if self.mode.endswith("vmap") else self._loop_points(v)

        return self._run_chunked(vecs.shape[0], fn)

    def _loop_points(self, vecs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        losses, accs = [], []
        for row in vecs:
            self._buf.copy_(row)
            lo, ac = self._point_metrics(self.model(self.x))
            losses.append(lo)
            accs.append(ac)
        return torch.stack(losses), torch.stack(accs)

    def evaluate_plane(self, plane: Plane, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Loss and accuracy at the points center + a[k]·d1 + b[k]·d2."""
        check_finite(plane.center)
        if plane.center.shape[0] != self.layout.size:
            raise LandscapeError(f"the plane has {plane.center.shape[0]} parameters, the model {self.layout.size}")
        dev = self.device
        pl = Plane(plane.center.to(dev), plane.d1.to(dev), plane.d2.to(dev), plane.kind, plane.scale)
        at = torch.as_tensor(np.asarray(a, dtype=np.float32), device=dev).reshape(-1)
        bt = torch.as_tensor(np.asarray(b, dtype=np.float32), device=dev).reshape(-1)
        run = {"linear-loop": self._linear_loop_plane, "linear-vmap": self._linear_vmap_plane, "loop": self._loop_plane}

        def fn(sl: slice):
            aa, bb = at[sl], bt[sl]
            if self.mode in run:
                return run[self.mode](pl, aa, bb)
            return self._vmap_points(pl.center + aa[:, None] * pl.d1 + bb[:, None] * pl.d2)

        return self._run_chunked(at.shape[0], fn)


# -- grids -----------------------------------------------------------------------------
def grid_levels(n: int, coarsest: int = 6) -> list[np.ndarray]:
    """Nested index sets of a grid axis, coarse to fine, each containing the previous one:
    strides 2^k with the end point always included (for n = 41: 6, 11, 21, 41 points)."""
    stride = 1
    while (n - 1) // (stride * 2) + 1 >= coarsest:
        stride *= 2
    levels = []
    while stride >= 1:
        idx = np.unique(np.r_[np.arange(0, n, stride), n - 1])
        levels.append(idx)
        stride //= 2
    return levels


@dataclass
class Surface:
    """Loss/accuracy over an N×N grid: loss[i, j] at center + alphas[i]·d1 + betas[j]·d2."""

    plane: Plane
    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray
    acc: np.ndarray
    done: np.ndarray | None = None  # which grid points are evaluated (all when None)

    @property
    def complete(self) -> bool:
        return self.done is None or bool(self.done.all())

    def level(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.alphas[idx], self.betas[idx], self.loss[np.ix_(idx, idx)]


def surface_grid(n: int, half_width: float) -> np.ndarray:
    return np.linspace(-half_width, half_width, n)


def compute_surface(
    evaluator: SurfaceEvaluator,
    plane: Plane,
    n: int,
    span: float,
    cancelled: Callable[[], bool] = lambda: False,
    batch: int = 256,
) -> Iterator[tuple[Surface, np.ndarray | None, float]]:
    """Coarse to fine: yields (surface so far, the axis indices complete so far, fraction done)
    after each batch of points; each level only evaluates the points the previous ones lack.
    Stops early (without finishing) when `cancelled()` turns true."""
    if n < 2:
        raise LandscapeError(f"a surface needs at least 2 points per axis, got {n}")
    half = float(span) * float(plane.scale)
    axis = surface_grid(n, half)
    done = np.zeros((n, n), dtype=bool)
    surf = Surface(plane, axis.copy(), axis.copy(), np.full((n, n), np.nan), np.full((n, n), np.nan), done)
    total, count = n * n, 0
    for idx in grid_levels(n):
        ii, jj = np.meshgrid(idx, idx, indexing="ij")
        todo = ~done[ii, jj]
        pi, pj = ii[todo], jj[todo]
        for s in range(0, len(pi), batch):
            if cancelled():
                return
            bi, bj = pi[s : s + batch], pj[s : s + batch]
            lo, ac = evaluator.evaluate_plane(plane, axis[bi], axis[bj])
            surf.loss[bi, bj], surf.acc[bi, bj] = lo, ac
            done[bi, bj] = True
            count += len(bi)
            yield surf, (idx if s + batch >= len(pi) else None), count / total
