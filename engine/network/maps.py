"""Every neuron's picture in one batched forward pass (the network view's data).

The model (an MLP or the CNN, both torch Sequentials) runs module by module in eval mode on
one batch — the G×G grid of the input plane for 2D data, a fixed set of validation samples
otherwise — and each hidden layer's activation input (pre) and output (post) are kept.
Everything stays in torch on the run's device until the one copy to numpy at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from engine.network.snapshot import LayerPictures

ACTIVATION_TYPES = (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.PReLU)
SATURATION_MARGIN = 0.03
"""A sigmoid/tanh output within this distance of an asymptote (0/1, ±1) counts as saturated..."""
SATURATED_FRACTION = 0.95
"""... and a unit saturated at this fraction of the points (grid or samples) is marked saturated."""


@dataclass
class LayerOutputs:
    """The hidden layers' activation inputs and outputs (N, U) or (N, C, h, w), and the logits."""

    pre: list[torch.Tensor]
    post: list[torch.Tensor]
    logits: torch.Tensor


@torch.no_grad()
def layer_outputs(model: nn.Module, x: torch.Tensor, switch: bool = True) -> LayerOutputs:
    """Run the Sequential model on x in eval mode, keeping each activation's input and output.
    `switch=False` where eval mode computes the same as training mode (engine/model/modes.py's
    `mode_dependent` says so): the switch walks every module twice."""
    was = model.training
    if switch:
        model.eval()
    pre: list[torch.Tensor] = []
    post: list[torch.Tensor] = []
    try:
        for m in model.children():  # MLP and CNN are Sequentials: their children run in order
            y = m(x)
            if isinstance(m, ACTIVATION_TYPES):
                pre.append(x)
                post.append(y)
            x = y
    finally:
        if switch:
            model.train(was)
    return LayerOutputs(pre, post, x)


def weight_layers(model: nn.Module) -> list[nn.Linear | nn.Conv2d]:
    """The Linear and Conv2d layers, input to output."""
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def unit_flags(activation: str, pre: torch.Tensor, post: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dead, saturated) per unit (dim 1) over every point and position: dead = a ReLU-like
    unit whose input is never positive (its output is 0, or only the leak, everywhere);
    saturated = a sigmoid/tanh unit at its asymptotes at SATURATED_FRACTION of the points."""
    units = pre.shape[1]
    others = (0, *range(2, pre.dim()))  # every dimension but the units' (reduced in place, no copy)
    none = torch.zeros(units, dtype=torch.bool, device=pre.device)
    if activation in ("relu", "leaky_relu", "prelu"):
        return pre.amax(dim=others) <= 0, none
    m = SATURATION_MARGIN
    if activation == "tanh":
        at = post.abs() >= 1 - m
    elif activation == "sigmoid":
        at = (post <= m) | (post >= 1 - m)
    else:
        return none, none
    return none, at.float().mean(dim=others) >= SATURATED_FRACTION


def _connection(w: torch.Tensor, n_prev: int) -> torch.Tensor:
    """A weight layer as (U, n_prev) signed strengths: Linear weights as they are, conv
    kernels summed over their window, a dense layer after a conv block summed over the
    positions of each channel; a layer fed by an input image (n_prev = 1) by each unit's
    weight norm."""
    if w.dim() == 4:
        w = w.sum((2, 3)) if n_prev != 1 else w.flatten(1).norm(dim=1, keepdim=True)
        return w
    if n_prev == 1:
        return w.norm(dim=1, keepdim=True)
    if w.shape[1] != n_prev:
        return w.reshape(w.shape[0], n_prev, -1).sum(-1)
    return w


def _class_members(y: torch.Tensor, n_classes: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C) one-hot rows of the samples' classes and (C, 1) the samples per class (at least 1)."""
    onehot = torch.nn.functional.one_hot(y, n_classes).to(dtype)
    return onehot, onehot.sum(0).clamp_min(1.0)[:, None]


def _class_means(act: torch.Tensor, onehot: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """(U, C): the mean of each unit over the samples of each class (conv: and its positions)."""
    a = act.flatten(2).mean(2) if act.dim() == 4 else act
    return (onehot.T @ a / counts).T


def _as_image(w: torch.Tensor, shape: Sequence[int]) -> tuple[str, torch.Tensor]:
    """Weights (U, C·H·W) or filters (U, C, k, k) as gray (U, H, W) or colour (U, H, W, 3) images."""
    c = shape[0]
    img = w.reshape(w.shape[0], c, *w.shape[-2:]) if w.dim() == 4 else w.reshape(w.shape[0], *shape)
    if c == 3:
        return "rgb", img.permute(0, 2, 3, 1)
    return "image", img.mean(1)


@dataclass
class NetworkLayout:
    """What the pictures need besides the model: the batch, its labels and the layer names."""

    kind: str  # "plane", "image" or "features"
    x: torch.Tensor  # the grid's model inputs (plane) or the samples
    y: torch.Tensor | None  # the samples' labels (not for the plane)
    n_classes: int
    input_shape: tuple[int, ...]
    resolution: int = 0
    input_labels: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    _members: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, init=False, repr=False, compare=False)

    def class_means(self, act: torch.Tensor) -> torch.Tensor:
        """(U, C): each unit's mean over the layout's samples of each class (their classes are
        one-hot encoded once)."""
        assert self.y is not None, "samples come with their labels"
        if self._members is None or self._members[0].dtype != act.dtype:
            self._members = _class_members(self.y, self.n_classes, act.dtype)
        return _class_means(act, *self._members)


@torch.no_grad()
def network_pictures(
    model: nn.Module, activation: str, lay: NetworkLayout, max_units: int = 1 << 30, switch: bool = True
) -> list[LayerPictures]:
    """Every layer's flags, and the pictures and incoming weights of its first `max_units`
    units (see engine/network/snapshot.py); `switch` as for `layer_outputs`."""
    out = layer_outputs(model, lay.x, switch)
    weights = weight_layers(model)
    g = lay.resolution
    n_hidden = len(out.post)
    pics: list[tuple[str, str, torch.Tensor, tuple[str, ...]]] = []  # name, picture kind, pictures, labels
    if lay.kind == "plane":
        pics.append(("inputs", "plane", lay.x.T.reshape(-1, g, g), lay.input_labels))
    elif lay.kind == "image":
        kind, img = _as_image(lay.x.mean(0, keepdim=True), lay.input_shape)
        pics.append(("inputs", kind, img, ("mean input image",)))
    else:
        pics.append(("inputs", "bars", lay.class_means(lay.x), lay.input_labels))
    n_conv = sum(isinstance(w, nn.Conv2d) for w in weights)
    for i, post in enumerate(out.post):
        name = f"conv {i + 1}" if i < n_conv else f"hidden {i + 1 - n_conv}"
        if lay.kind == "plane":
            pics.append((name, "plane", post.T.reshape(-1, g, g), ()))
        elif i == 0 and lay.kind == "image":
            kind, img = _as_image(weights[0].weight, lay.input_shape)
            pics.append((name, kind, img, ()))
        else:
            pics.append((name, "bars", lay.class_means(post), ()))
    # Over the classes, laid out as the first dimension: torch's CPU softmax over a short last
    # dimension (a few classes) takes several times longer; the same values up to rounding.
    probs = torch.softmax(out.logits.T.contiguous(), dim=0).T
    if lay.kind == "plane":
        pics.append(("output", "plane", probs.T.reshape(-1, g, g), lay.class_names))
    else:
        pics.append(("output", "bars", lay.class_means(probs), lay.class_names))

    layers: list[LayerPictures] = []
    prev = 0
    for i, (name, kind, p, labels) in enumerate(pics):
        units = p.shape[0]
        keep = min(units, max_units)
        if 0 < i <= n_hidden:
            dead, sat = unit_flags(activation, out.pre[i - 1], out.post[i - 1])
        else:
            dead = sat = torch.zeros(units, dtype=torch.bool)
        if i:
            layer = weights[i - 1]
            w = _connection(layer.weight[:keep], prev)[:, : min(prev, max_units)]
            b = layer.bias[:keep] if layer.bias is not None else torch.zeros(keep)
        else:
            w, b = torch.zeros(keep, 0), torch.zeros(keep)
        layers.append(
            LayerPictures(
                name,
                kind,
                p[:keep].float().cpu().numpy(),
                dead.cpu().numpy(),
                sat.cpu().numpy(),
                w.float().cpu().numpy(),
                b.float().cpu().numpy(),
                tuple(labels),
            )
        )
        prev = units
    return layers


def direct_unit_map(model: nn.Module, x: torch.Tensor, layer: int, unit: int, resolution: int) -> np.ndarray:
    """The reference for a hidden unit's map: the model's own prefix, up to and including the
    activation of hidden layer `layer` (1-based), run as one module on the grid inputs."""
    seen = 0
    end = 0
    children = list(model.children())
    for k, m in enumerate(children):
        if isinstance(m, ACTIVATION_TYPES):
            seen += 1
            if seen == layer:
                end = k + 1
                break
    prefix = nn.Sequential(*children[:end])
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            y = prefix(x)[:, unit]
    finally:
        model.train(was)
    return y.reshape(resolution, resolution).float().cpu().numpy()


def layout_of(data, cfg_samples: int, resolution: int, device: torch.device | str) -> tuple[NetworkLayout, tuple]:
    """The batch the pictures are computed on, for a run's data: the plane's grid (2D data) or
    the first `cfg_samples` validation samples; returns the layout and the plane's extent."""
    from engine.data.features import plane_grid

    names = tuple(str(n) for n in data.class_names)
    if data.plane is not None:
        extent, grid = plane_grid(data, resolution, device)
        lay = NetworkLayout(
            "plane", grid, None, data.n_classes, tuple(data.input_shape), resolution, tuple(data.plane.labels), names
        )
        return lay, extent
    xs, ys = (data.x_val, data.y_val) if len(data.x_val) else (data.x_train, data.y_train)
    x, y = xs[:cfg_samples].to(device), ys[:cfg_samples].to(device)
    kind = "image" if data.is_image else "features"
    labels = tuple(str(n) for n in data.feature_names) if len(data.feature_names) == data.n_features else ()
    return NetworkLayout(kind, x, y, data.n_classes, tuple(data.input_shape), 0, labels, names), (0.0, 0.0, 0.0, 0.0)
