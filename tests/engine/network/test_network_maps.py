"""The network view's data: every neuron's map over the input plane, its flags, its session form."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.commands.info import describe
from engine.config import ExperimentConfig
from engine.data import load_data
from engine.experiment import build_trainer
from engine.model import build_model
from engine.network import NetworkSnapshot, NetworkViewHook, direct_unit_map, from_record, network_pictures
from engine.network.maps import layout_of
from engine.session import FORMAT_VERSION, Session, load_session, record_of, save_session

FAST = {
    "device": "cpu",
    "train.threads": 1,
    "probes.enabled": False,
    "metrics.enabled": False,
    "diagnostics.enabled": False,
    "landscape.snapshots": False,
    "landscape.sharpness_every": 0,
}
FIXTURES = __import__("pathlib").Path(__file__).parents[2] / "fixtures"


def _pictures(cfg: ExperimentConfig, resolution: int = 32):
    data = load_data(cfg)
    model = build_model(cfg.model, data.n_features, data.n_classes, cfg.seed, input_shape=data.input_shape)
    lay, extent = layout_of(data, 64, resolution, "cpu")
    return model, lay, network_pictures(model, cfg.model.activation, lay)


def test_every_hidden_units_map_equals_a_direct_forward_pass_on_the_grid():
    cfg = ExperimentConfig().with_updates(
        {**FAST, "data.name": "spiral", "data.features": "x1,x2,x1x2,sin_x1", "model.hidden": [6, 5]}
    )
    cfg = cfg.with_updates({"model.activation": "tanh", "model.batch_norm": "before"})
    model, lay, layers = _pictures(cfg)
    assert [layer.name for layer in layers] == ["inputs", "hidden 1", "hidden 2", "output"]
    assert layers[0].pictures.shape == (4, 32, 32) and layers[0].labels == ("x₁", "x₂", "x₁x₂", "sin x₁")
    for li, width in ((1, 6), (2, 5)):
        assert layers[li].pictures.shape == (width, 32, 32)
        for u in range(width):
            ref = direct_unit_map(model, lay.x, li, u, 32)
            err = np.abs(layers[li].pictures[u] - ref).max() / max(np.abs(ref).max(), 1e-12)
            assert err <= 1e-5, (li, u, err)
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(lay.x), 1).T.reshape(-1, 32, 32).numpy()
    assert np.abs(layers[-1].pictures - probs).max() <= 1e-5
    assert layers[1].weights.shape == (6, 4) and layers[3].weights.shape == (3, 5)
    np.testing.assert_allclose(layers[2].weights, model.linear_layers()[1].weight.detach().numpy())


def test_constant_init_gives_identical_maps_within_a_layer_and_xavier_does_not():
    base = {**FAST, "data.name": "moons", "model.hidden": [5, 4], "model.activation": "tanh"}
    _, _, const = _pictures(ExperimentConfig().with_updates({**base, "model.init": "constant"}))
    _, _, xavier = _pictures(ExperimentConfig().with_updates({**base, "model.init": "xavier_uniform"}))
    for li in (1, 2):
        c, x = const[li].pictures, xavier[li].pictures
        assert np.abs(c - c[:1]).max() <= 1e-6, li
        assert np.abs(x - x[:1]).max() > 1e-2, li


def test_a_unit_with_a_very_negative_bias_is_marked_dead_and_a_huge_tanh_unit_saturated():
    cfg = ExperimentConfig().with_updates({**FAST, "data.name": "xor", "model.hidden": [6], "model.activation": "relu"})
    model, lay, _ = _pictures(cfg)
    with torch.no_grad():
        model[1].bias[2] = -1e3
    layers = network_pictures(model, "relu", lay)
    assert list(np.flatnonzero(layers[1].dead)) == [2] and not layers[1].saturated.any()
    assert np.all(layers[1].pictures[2] == 0)

    cfg = cfg.with_updates({"model.activation": "tanh"})
    model, lay, _ = _pictures(cfg)
    with torch.no_grad():
        model[1].bias[4] = 50.0
    layers = network_pictures(model, "tanh", lay)
    assert list(np.flatnonzero(layers[1].saturated)) == [4] and not layers[1].dead.any()


def test_wide_layers_send_the_pictures_of_their_first_units_and_every_units_flags():
    from engine.network.snapshot import to_record
    from engine.session import RunRecord

    cfg = ExperimentConfig().with_updates({**FAST, "data.name": "moons", "model.hidden": [9, 7]})
    model, lay, full = _pictures(cfg, 16)
    with torch.no_grad():
        model[1].bias[8] = -1e3  # dead, beyond the units with pictures
    layers = network_pictures(model, "relu", lay, max_units=4)
    assert [(x.units, x.drawn) for x in layers] == [(2, 2), (9, 4), (7, 4), (2, 2)]
    assert layers[1].dead[8] and layers[2].weights.shape == (4, 4) and layers[1].bias.shape == (4,)
    np.testing.assert_allclose(layers[2].weights, full[2].weights[:4, :4])
    np.testing.assert_allclose(layers[1].pictures, full[1].pictures[:4], atol=1e-6)
    snap = NetworkSnapshot("r", 1, 0, "plane", "relu", (0.0, 1.0, 0.0, 1.0), ("0", "1"), tuple(layers))
    rec = RunRecord("r", cfg)
    rec.arrays, rec.meta = to_record([snap])
    assert from_record(rec) == [snap]


def test_image_data_shows_first_layer_weights_as_images_and_deeper_units_per_class():
    cfg = ExperimentConfig().with_updates({**FAST, "data.name": "digits", "model.hidden": [12, 7]})
    model, lay, layers = _pictures(cfg)
    assert [(layer.picture, layer.pictures.shape) for layer in layers] == [
        ("image", (1, 8, 8)),
        ("image", (12, 8, 8)),
        ("bars", (7, 10)),
        ("bars", (10, 10)),
    ]
    np.testing.assert_allclose(layers[1].pictures[3], model[1].weight[3].detach().reshape(8, 8).numpy())
    # each output unit's mean probability over each class's samples: rows sum to 1 over units
    np.testing.assert_allclose(layers[3].pictures.sum(0), 1.0, atol=1e-5)

    cnn = cfg.with_updates({"model.arch": "cnn", "model.conv_channels": [4, 6], "model.hidden": [8]})
    model, lay, layers = _pictures(cnn)
    assert [layer.name for layer in layers] == ["inputs", "conv 1", "conv 2", "hidden 1", "output"]
    assert layers[1].pictures.shape == (4, 3, 3) and layers[2].weights.shape == (6, 4)
    np.testing.assert_allclose(layers[1].pictures[2], model[1].weight[2, 0].detach().numpy())


def test_hook_is_paced_and_the_last_snapshot_survives_a_session_round_trip(tmp_path):
    got: list = []
    cfg = ExperimentConfig().with_updates(
        {**FAST, "data.name": "moons", "data.n_samples": 200, "model.hidden": [4], "train.epochs": 3}
    )
    cfg = cfg.with_updates({"network.resolution": 16})
    t = build_trainer(cfg, emit=got.append)
    hook = next(h for h in t.hooks if isinstance(h, NetworkViewHook))
    t.run()
    snaps = [e for e in got if isinstance(e, NetworkSnapshot)]
    assert 2 <= len(snaps) == hook.passes and snaps[-1].step == t.step and snaps[0].droppable
    path = save_session(Session(runs=[record_of(t)]), tmp_path / "s.descent")
    loaded = load_session(path)
    assert loaded.format_version == FORMAT_VERSION
    assert from_record(loaded.runs[0]) == [snaps[-1]]
    info = describe(loaded)
    net = info["runs"][0]["network"]
    assert [layer["name"] for layer in net["layers"]] == ["hidden 1", "output"] and net["step"] == t.step
    assert net["layers"][0]["units"] == 4 and isinstance(net["layers"][0]["dead"], list)
    json.dumps(info)


def test_an_old_session_without_network_members_opens_and_a_malformed_one_names_the_member(tmp_path):
    old = load_session(FIXTURES / "format2_main.descent")
    assert all(from_record(r) == [] for r in old.runs) and "network" not in describe(old)["runs"][0]
    rec = old.runs[0]
    rec.arrays["network/0/picture"] = np.zeros((2, 3, 3), np.float32)
    rec.meta["network"] = {
        "kind": "plane",
        "extent": [0, 1, 0, 1],
        "step": 1,
        "epoch": 1,
        "layers": [{"name": "inputs", "units": 3, "drawn": 3, "picture": "plane"}],
    }
    with pytest.raises(ValueError, match="network/0/picture"):
        from_record(rec)
