"""TensorBoard logdir: read back with TensorBoard's own event reader, the same scalars at the
same steps, one histogram per probe and layer, and each run's hyperparameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from engine.compare import LockstepRunner
from engine.compare.layout import comparison_meta
from engine.config import ExperimentConfig
from engine.export import ExportError
from engine.export.tensorboard import HISTOGRAM_GROUPS, epoch_steps, write_tensorboard
from engine.probes.snapshot import from_record
from engine.session import Session


@pytest.fixture(scope="module")
def session() -> Session:
    base = ExperimentConfig().with_updates(
        {
            "data.n_samples": 160,
            "model.hidden": [8],
            "train.epochs": 2,
            "train.batch_size": 32,
            "device": "cpu",
            "diagnostics.enabled": False,
            "metrics.enabled": False,
            "probes.every": 2,
        }
    )
    runner = LockstepRunner()
    for name, lr in (("sgd", 0.1), ("adam", 0.01)):
        runner.add(name, base.with_updates({"optim.name": name, "optim.lr": lr}))
    runner.run()
    return Session(runs=runner.records(), meta={"comparison": comparison_meta(None, ["sgd", "adam"])})


def _read(folder: Path) -> EventAccumulator:
    ea = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    ea.Reload()
    return ea


def test_logdir_round_trip(session, tmp_path):
    folders = write_tensorboard(session, tmp_path / "logdir")
    assert [f.name for f in folders] == ["sgd", "adam"]
    assert sorted(p.name for p in (tmp_path / "logdir").iterdir()) == ["adam", "sgd"]  # no staging left
    for run, folder in zip(session.runs, folders):
        ea = _read(folder)
        tags = ea.Tags()["tensors"]
        loss = ea.Tensors("train/loss")
        n = len(run.series["step/loss"])
        assert [e.step for e in loss] == list(range(1, n + 1))
        np.testing.assert_allclose([e.tensor_proto.float_val[0] for e in loss], run.series["step/loss"], rtol=1e-6)
        for key in ("val_loss", "val_acc"):
            ev = ea.Tensors(f"epoch/{key}")
            assert [e.step for e in ev] == epoch_steps(run).tolist()
            np.testing.assert_allclose([e.tensor_proto.float_val[0] for e in ev], run.series[f"epoch/{key}"], rtol=1e-6)
        assert {"train/lr", "train/grad_norm"} <= set(tags)
        snaps = from_record(run)
        assert len(snaps) >= 3
        hist_tags = ea.Tags()["histograms"]
        expected = sum(
            len(s.layers.activations if g in ("act", "agrad") else s.layers.weights)
            for s in snaps[:1]
            for g in HISTOGRAM_GROUPS
        )
        assert len(hist_tags) == expected  # every group and layer
        n_entries = sum(len(ea.Histograms(t)) for t in hist_tags)
        measured = sum(
            int(np.asarray(s.group(g).hist).sum(axis=1).astype(bool).sum()) for s in snaps for g in HISTOGRAM_GROUPS
        )
        assert n_entries == measured
        w = ea.Histograms(next(t for t in hist_tags if t.startswith("weights/")))
        assert [h.step for h in w] == [s.step for s in snaps]
        hp = plugin_data_pb2.HParamsPluginData.FromString(
            ea.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        )
        values = hp.session_start_info.hparams
        assert values["optim.name"].string_value == run.config.optim.name
        assert values["optim.lr"].number_value == pytest.approx(run.config.optim.lr)
        assert ea.Scalars("hparam/val_loss")[0].value == pytest.approx(run.final["val_loss"])


def test_bad_logdirs_are_named(session, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ExportError, match="cannot create the folder"):
        write_tensorboard(session, tmp_path / "f" / "logdir")
    (tmp_path / "l" / "sgd").mkdir(parents=True)
    (tmp_path / "l" / "sgd" / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a TensorBoard run folder"):
        write_tensorboard(session, tmp_path / "l")
    assert (tmp_path / "l" / "sgd" / "notes.txt").read_text() == "mine" and not (tmp_path / "l" / "adam").exists()
    with pytest.raises(ExportError, match="no training runs"):
        write_tensorboard(Session(), tmp_path / "e")
    # an export again replaces the earlier one instead of merging into it
    write_tensorboard(session, tmp_path / "again")
    write_tensorboard(session, tmp_path / "again")
    ea = _read(tmp_path / "again" / "sgd")
    assert len(ea.Tensors("train/loss")) == len(session.runs[0].series["step/loss"])
