"""Batch norm and dropout chosen per hidden layer (model.batch_norm_layers, model.dropout_layers),
while the model-wide keys (model.batch_norm, model.dropout) keep meaning "every hidden layer"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.config import ConfigError, ExperimentConfig, ModelConfig, field_spec, parse_set_args
from engine.experiment import build_trainer
from engine.model import build_model
from engine.model.mlp import SeededDropout, batchnorm_labels
from engine.session import record_of

ROOT = Path(__file__).resolve().parents[3]
ACTS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.PReLU)


def _blocks(model: nn.Module) -> list[list[str]]:
    """The model's sequence cut at each weight layer: [['Linear', 'BatchNorm1d', 'ReLU', 'Dropout(0.5)'], ...]."""
    out: list[list[str]] = []
    for m in model:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            out.append([])
        if not out:
            continue
        if isinstance(m, SeededDropout):
            out[-1].append(f"Dropout({m.p:g})")
        elif isinstance(m, ACTS):
            out[-1].append("act")
        elif isinstance(m, (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d)):
            out[-1].append(type(m).__name__)
    return out


def test_dropout_probabilities_land_in_their_layers():
    m = build_model(ModelConfig(hidden=[8, 8, 8], dropout_layers=[0.5, 0.0, 0.2]), 4, 3, seed=0)
    assert _blocks(m) == [
        ["Linear", "act", "Dropout(0.5)"],
        ["Linear", "act"],
        ["Linear", "act", "Dropout(0.2)"],
        ["Linear"],
    ]


def test_dropout_layers_override_the_model_wide_dropout():
    m = build_model(ModelConfig(hidden=[8, 8], dropout=0.3, dropout_layers=[0.0, 0.7]), 4, 3, seed=0)
    assert [x.p for x in m if isinstance(x, SeededDropout)] == [0.7]


def test_batch_norm_only_where_asked_and_on_its_side_of_the_activation():
    m = build_model(
        ModelConfig(hidden=[8, 8, 8], batch_norm_layers=["before", "off", "after"], bn_momentum=0.2, bn_eps=1e-3),
        4,
        3,
        seed=0,
    )
    assert _blocks(m) == [
        ["Linear", "BatchNorm1d", "act"],
        ["Linear", "act"],
        ["Linear", "act", "BatchNorm1d"],
        ["Linear"],
    ]
    bns = [x for x in m if isinstance(x, nn.BatchNorm1d)]
    assert [b.num_features for b in bns] == [8, 8]
    assert all(b.momentum == 0.2 and b.eps == 1e-3 for b in bns)
    labels = [label for _, label in batchnorm_labels(m)]
    assert labels == [
        "hidden layer 1, before the activation (8 units)",
        "hidden layer 3, after the activation (8 units)",
    ]


def test_batch_norm_layers_override_the_model_wide_placement():
    m = build_model(ModelConfig(hidden=[8, 8], batch_norm="before", batch_norm_layers=["off", "after"]), 4, 3, seed=0)
    assert _blocks(m)[:2] == [["Linear", "act"], ["Linear", "act", "BatchNorm1d"]]


@pytest.mark.parametrize("bn,p", [("before", 0.3), ("after", 0.0), ("off", 0.25)])
def test_old_style_keys_mean_every_layer_exactly(bn, p):
    """model.batch_norm / model.dropout alone build the very network the equal per-layer lists build."""
    old = ModelConfig(hidden=[8, 6, 5], batch_norm=bn, dropout=p)
    new = ModelConfig(hidden=[8, 6, 5], batch_norm_layers=[bn] * 3, dropout_layers=[p] * 3)
    a, b = build_model(old, 4, 3, seed=7), build_model(new, 4, 3, seed=7)
    assert _blocks(a) == _blocks(b)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    x = torch.randn(32, 4)
    a.train(), b.train()
    assert torch.equal(a(x), b(x))  # same dropout masks too
    assert old.batch_norm_per_layer() == [bn] * 3 and old.dropout_per_layer() == [p] * 3


def test_cnn_dense_part_per_layer_conv_blocks_model_wide():
    cfg = ModelConfig(
        arch="cnn",
        conv_channels=[4, 4],
        hidden=[16, 8],
        batch_norm="after",
        dropout=0.1,
        batch_norm_layers=["off", "before"],
        dropout_layers=[0.5, 0.0],
    )
    m = build_model(cfg, 64, 10, seed=0, input_shape=(1, 8, 8))
    blocks = _blocks(m)
    assert blocks[0] == blocks[1] == ["Conv2d", "act", "BatchNorm2d", "Dropout(0.1)"]
    assert blocks[2:] == [["Linear", "act", "Dropout(0.5)"], ["Linear", "BatchNorm1d", "act"], ["Linear"]]
    assert m(torch.rand(4, 64)).shape == (4, 10)
    assert cfg.uses_batch_norm()
    # conv blocks alone make a CNN use batch norm; the MLP ignores the conv setting's absence
    assert ModelConfig(arch="cnn", batch_norm="before", batch_norm_layers=["off", "off"]).uses_batch_norm()
    assert not ModelConfig(arch="mlp", batch_norm="before", batch_norm_layers=["off", "off"]).uses_batch_norm()
    assert ModelConfig(batch_norm_layers=["off", "after"]).uses_batch_norm()
    assert not ModelConfig().uses_batch_norm()


@pytest.mark.parametrize(
    "key,value,fallback",
    [
        ("model.dropout_layers", [0.5, 0.0, 0.2], "model.dropout"),
        ("model.batch_norm_layers", ["before"], "model.batch_norm"),
        ("model.activation_layers", ["tanh"], "model.activation"),
    ],
)
def test_length_mismatch_names_the_field_expected_and_given(key, value, fallback):
    with pytest.raises(ConfigError) as e:
        ExperimentConfig().with_updates({"model.hidden": [32, 32], key: value})
    msg = str(e.value)
    assert msg.startswith(f"{key}: expected 2 values, one per hidden layer of model.hidden (32,32), got {len(value)}")
    assert fallback in msg


def test_changing_the_depth_later_is_refused_until_the_lists_match():
    cfg = ExperimentConfig().with_updates({"model.dropout_layers": "0.5,0"})
    with pytest.raises(ConfigError, match=r"model.dropout_layers: expected 3 values.*got 2 \(0.5,0\)"):
        cfg.with_updates({"model.hidden": "16,16,16"})
    ok = cfg.with_updates({"model.hidden": "16,16,16", "model.dropout_layers": ""})
    assert ok.model.dropout_layers == [] and ok.model.dropout_per_layer() == [0.0] * 3


def test_entry_out_of_range_and_bad_text_are_named():
    with pytest.raises(ConfigError, match=r"model.dropout_layers: entry 2 \(1.0\).*less than 1.*each in \[0, 1\)"):
        ExperimentConfig().with_updates({"model.dropout_layers": "0.5,1"})
    with pytest.raises(ConfigError, match="model.dropout_layers: cannot read '0.5,,0'"):
        parse_set_args(["model.dropout_layers=0.5,,0"])
    with pytest.raises(ConfigError, match="model.dropout_layers: cannot read '0.5,nan'"):
        parse_set_args(["model.dropout_layers=0.5,nan"])
    with pytest.raises(ConfigError, match="model.batch_norm_layers: 'middle' is not one of off\\|before\\|after"):
        parse_set_args(["model.batch_norm_layers=before,middle"])


def test_set_syntax_and_field_kinds():
    assert parse_set_args(["model.dropout_layers=0.5,0", "model.batch_norm_layers=[Before, off]"]) == {
        "model.dropout_layers": [0.5, 0.0],
        "model.batch_norm_layers": ["before", "off"],
    }
    assert parse_set_args(["model.dropout_layers="]) == {"model.dropout_layers": []}
    fl, cl = field_spec("model.dropout_layers"), field_spec("model.batch_norm_layers")
    assert (fl.kind, fl.minimum, fl.maximum, fl.max_exclusive, fl.is_list) == ("float_list", 0.0, 1.0, True, True)
    assert (cl.kind, cl.choices, cl.is_list) == ("choice_list", ("off", "before", "after"), True)
    assert field_spec("data.path").widget == "path"


def test_batch_size_one_refused_when_any_layer_has_batch_norm():
    with pytest.raises(ConfigError, match="train.batch_size of at least 2"):
        ExperimentConfig().with_updates({"model.batch_norm_layers": ["off", "before"], "train.batch_size": 1})
    ExperimentConfig().with_updates({"model.batch_norm_layers": ["off", "off"], "train.batch_size": 1})


def test_old_config_json_loads_with_the_same_meaning():
    """A config saved before the per-layer fields existed (no such keys) opens unchanged."""
    data = json.loads(ExperimentConfig().with_updates({"model.batch_norm": "after", "model.dropout": 0.3}).to_json())
    del data["model"]["batch_norm_layers"], data["model"]["dropout_layers"]
    cfg = ExperimentConfig.from_json(json.dumps(data))
    assert cfg.model.batch_norm_per_layer() == ["after", "after"] and cfg.model.dropout_per_layer() == [0.3, 0.3]


FAST = {
    "data.name": "digits",
    "model.hidden": [32, 16],
    "train.epochs": 1,
    "train.batch_size": 32,
    "device": "cpu",
    "train.threads": 1,
    "probes.enabled": False,
    "diagnostics.enabled": False,
    "metrics.enabled": False,
    "landscape.snapshots": False,
    "landscape.sharpness_every": 0,
}


def _loss_series(cfg: ExperimentConfig, steps: int = 12) -> list[float]:
    from engine.train import Trainer

    t = Trainer(cfg, hooks=[])
    t.run(max_steps=steps)
    return t.series["step/loss"].array().tolist()


def test_per_layer_settings_change_the_run():
    base = ExperimentConfig().with_updates(FAST)
    variants = {
        "base": base,
        "dropout first": base.with_updates({"model.dropout_layers": [0.5, 0.0]}),
        "dropout second": base.with_updates({"model.dropout_layers": [0.0, 0.5]}),
        "bn second": base.with_updates({"model.batch_norm_layers": ["off", "before"]}),
    }
    series = {name: _loss_series(cfg) for name, cfg in variants.items()}
    assert all(len(s) == 12 for s in series.values())
    names = list(series)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert series[a] != series[b], f"{a} and {b} gave the same loss series"
    assert _loss_series(variants["dropout first"]) == series["dropout first"]  # the comparison can fail


def test_batchnorm_probe_records_only_the_layers_with_batch_norm():
    from engine.batchnorm.probe import BatchNormProbe
    from engine.session.record import RunRecord
    from engine.train import Trainer

    cfg = ExperimentConfig().with_updates({**FAST, "model.batch_norm_layers": ["off", "after"]})
    probe = BatchNormProbe(every=2, emit_every=2)
    t = Trainer(cfg, hooks=[probe])
    t.run(max_steps=7)
    assert probe.names == ["hidden layer 2, after the activation (16 units)"]
    record = RunRecord("r", cfg)
    probe.export(record)  # the recorded samples, one array per statistic
    block = {k.removeprefix("batchnorm/"): v for k, v in record.arrays.items()}
    assert block["batch_mean"].shape[1] == 1 and len(probe.steps) == 4 and probe.steps[-1] == t.step
    bn = [m for m in t.model.modules() if isinstance(m, nn.BatchNorm1d)][0]
    assert abs(float(block["running_mean"][-1, 0, 0]) - float(bn.running_mean[0])) < 1e-6


def test_session_round_trip_keeps_per_layer_settings(tmp_path):
    from engine.session import Session, load_session, save_session
    from engine.train import Trainer

    cfg = ExperimentConfig().with_updates(
        {**FAST, "model.dropout_layers": [0.4, 0.0], "model.batch_norm_layers": ["before", "off"]}
    )
    t = Trainer(cfg, hooks=[])
    t.run(max_steps=3)
    path = tmp_path / "s.descent"
    save_session(Session(runs=[record_of(t, "r")]), path)
    back = load_session(path).runs[0].config
    assert back == cfg and back.model.dropout_layers == [0.4, 0.0] and back.model.batch_norm_layers == ["before", "off"]


def test_cli_set_dropout_layers(tmp_path):
    out = tmp_path / "a.descent"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop.cli",
            "run",
            "--set",
            "model.dropout_layers=0.5,0",
            "--set",
            "train.epochs=2",
            "--set",
            "data.n_samples=300",
            "--set",
            "device=cpu",
            "--quiet",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    info = subprocess.run(
        [sys.executable, "-m", "desktop.cli", "info", str(out), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["runs"][0]["config"]["model"]["dropout_layers"] == [0.5, 0.0]
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop.cli",
            "run",
            "--set",
            "model.dropout_layers=0.5",
            "--out",
            str(tmp_path / "b.descent"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "model.dropout_layers: expected 2 values" in bad.stderr and "got 1 (0.5)" in bad.stderr


def test_batch_norm_in_only_some_layers_gets_the_probe_and_the_pair_guard():
    from engine.batchnorm.probe import BatchNormProbe

    cfg = ExperimentConfig().with_updates(
        {
            "data.n_samples": 129,
            "model.hidden": [8, 8],
            "model.batch_norm_layers": ["off", "before"],
            "train.batch_size": 32,
            "train.epochs": 1,
            "device": "cpu",
        }
    )
    t = build_trainer(cfg)
    assert any(isinstance(h, BatchNormProbe) for h in t.hooks)
    # The epoch's last batch would hold one sample: it borrows one so BN can normalize it.
    assert t.run() == "finished"


def test_compare_vary_takes_per_layer_lists():
    from engine.compare.spec import parse_vary

    ((key, values),) = parse_vary(["model.dropout_layers=0.5,0;0,0.5"])
    assert key == "model.dropout_layers" and values == [[0.5, 0.0], [0.0, 0.5]]


def test_init_study_ignores_the_configs_per_layer_lists():
    from engine.probes.init_study import init_study

    cfg = ExperimentConfig().with_updates(
        {
            "model.hidden": [16, 16],
            "model.dropout_layers": [0.5, 0.0],
            "model.batch_norm_layers": ["off", "after"],
            "model.activation_layers": ["tanh", "relu"],
            "device": "cpu",
        }
    )
    study = init_study(cfg, depth=5, width=32, n_samples=64)
    assert len(study.labels) == 5 and study.std.shape == (5,) and (study.std > 0).all()


def test_activation_layers_put_each_activation_in_its_layer_with_its_kaiming_gain():
    cfg = ExperimentConfig().with_updates(
        {"model.hidden": [256, 256, 256], "model.activation_layers": "tanh,relu,sigmoid", "model.init": "kaiming"}
    )
    m = build_model(cfg.model, 256, 3, 0)
    acts = [type(x).__name__ for x in m if isinstance(x, ACTS)]
    assert acts == ["Tanh", "ReLU", "Sigmoid"]
    # Kaiming: std = gain/√fan_in with each layer's own gain (tanh 5/3, ReLU √2, sigmoid 1)
    stds = [float(layer.weight.detach().std()) * 16 for layer in m.linear_layers()[:3]]
    assert stds == pytest.approx([5 / 3, 2**0.5, 1.0], rel=0.03)
    wide = build_model(cfg.model.model_copy(update={"activation_layers": []}), 256, 3, 0)
    assert [type(x).__name__ for x in wide if isinstance(x, ACTS)] == ["ReLU"] * 3
    with pytest.raises(ConfigError, match="model.activation_layers: .*not one of"):
        cfg.with_updates({"model.activation_layers": "tanh,swish,relu"})
