"""The user's own files: CSV, NPZ and image folders end to end; malformed files give one clear line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.config import ExperimentConfig
from engine.data import load_data
from engine.data.files import DataFileError
from engine.train import Trainer


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 3)) + y[:, None] * 3.0
    return X, y


def _cfg(name, path, **kw):
    upd = {
        "data.name": name,
        "data.path": str(path),
        "train.epochs": 3,
        "train.batch_size": 16,
        "model.hidden": [8],
        "device": "cpu",
        "train.threads": 1,
    }
    upd.update(kw)
    return ExperimentConfig().with_updates(upd)


def _write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


def test_csv_end_to_end_with_text_labels(tmp_path):
    X, y = _blobs()
    names = np.array(["cat", "dog"])[y]
    p = _write_csv(
        tmp_path / "d.csv",
        ["a", "species", "b", "c"],
        [[f"{r[0]:.5f}", n, f"{r[1]:.5f}", f"{r[2]:.5f}"] for r, n in zip(X, names)],
    )
    cfg = _cfg("csv", p, **{"data.label_column": "species"})
    b = load_data(cfg)
    assert b.n_classes == 2 and b.class_names == ["cat", "dog"] and b.feature_names == ["a", "b", "c"]
    assert len(b.x_train) + len(b.x_val) == 120 and b.preprocess == "standardize"
    t = Trainer(cfg, hooks=[])
    assert t.run() == "finished"
    assert t.final_metrics()["val_acc"] >= 0.8  # the blobs are 3σ apart (3 short epochs)


def test_npz_end_to_end_and_image_shaped_npz(tmp_path):
    X, y = _blobs()
    np.savez(tmp_path / "d.npz", X=X, y=y + 5)
    b = load_data(_cfg("npz", tmp_path / "d.npz"))
    assert b.n_classes == 2 and b.class_names == ["5", "6"] and b.input_shape == (3,)
    imgs = np.random.default_rng(0).random((40, 6, 6))
    np.savez(tmp_path / "i.npz", X=imgs, y=np.arange(40) % 4)
    cfg = _cfg("npz", tmp_path / "i.npz", **{"model.arch": "cnn", "model.conv_channels": [4]})
    b = load_data(cfg)
    assert b.input_shape == (1, 6, 6) and b.x_train.shape[1] == 36 and b.n_classes == 4
    assert Trainer(cfg, hooks=[]).run() == "finished"
    hwc = np.random.default_rng(1).random((20, 5, 6, 3))
    np.savez(tmp_path / "c.npz", X=hwc, y=np.arange(20) % 2)
    b = load_data(_cfg("npz", tmp_path / "c.npz", **{"data.preprocess": "none"}))
    assert b.input_shape == (3, 5, 6)
    first = np.concatenate([b.x_train.numpy(), b.x_val.numpy()])
    assert any(np.allclose(r, hwc[i].transpose(2, 0, 1).ravel(), atol=1e-6) for r in first for i in range(20))


def _make_images(root, classes=("circle", "square"), n=6, size=12):
    for k, c in enumerate(classes):
        (root / c).mkdir(parents=True)
        for i in range(n):
            a = np.zeros((size, size), np.uint8)
            if k == 0:
                a[3:9, 3:9] = 255
            else:
                a[:, i % size] = 200
            Image.fromarray(a).save(root / c / f"{i}.png")


def test_image_folder_end_to_end(tmp_path):
    _make_images(tmp_path / "imgs")
    cfg = _cfg(
        "image_folder",
        tmp_path / "imgs",
        **{"data.image_size": 8, "model.arch": "cnn", "model.conv_channels": [4], "train.val_fraction": 0.25},
    )
    b = load_data(cfg)
    assert b.input_shape == (1, 8, 8) and b.class_names == ["circle", "square"]
    assert len(b.x_train) + len(b.x_val) == 12
    assert 0.0 <= float(b.x_train.min()) and float(b.x_train.max()) <= 1.0
    assert Trainer(cfg, hooks=[]).run() == "finished"
    rgb = load_data(cfg.with_updates({"data.grayscale": False}))
    assert rgb.input_shape == (3, 8, 8)


@pytest.mark.parametrize(
    "header,rows,match",
    [
        (["a", "b"], [[1, 0], [2, 1]], r"no label column 'label'"),
        (["a", "label"], [[1, 0], ["x7", 1], [2, 0]], r"line 3, column 'a': 'x7' is not a number"),
        (["a", "label"], [[1, 0], ["nan", 1], [2, 0]], r"line 3, column 'a': missing value"),
        (["a", "label"], [[1, 0], ["", 1], [2, 0]], r"line 3, column 'a': missing value"),
        (["a", "label"], [[1, 3], [2, 3], [5, 3]], r"only one class \(3\)"),
    ],
)
def test_malformed_csv_names_file_and_problem(tmp_path, header, rows, match):
    p = _write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(DataFileError, match=match) as e:
        load_data(_cfg("csv", p))
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_malformed_npz_and_missing_files(tmp_path):
    np.savez(tmp_path / "m.npz", X=np.zeros((10, 2)), y=np.arange(9) % 2)
    with pytest.raises(DataFileError, match=r"m.npz: X has 10 samples but y has 9 labels"):
        load_data(_cfg("npz", tmp_path / "m.npz"))
    np.savez(tmp_path / "k.npz", data=np.zeros((10, 2)))
    with pytest.raises(DataFileError, match=r"missing array X and y \(found: data\)"):
        load_data(_cfg("npz", tmp_path / "k.npz"))
    np.savez(tmp_path / "o.npz", X=np.array([{"a": 1}] * 4, dtype=object), y=np.arange(4) % 2)
    with pytest.raises(DataFileError, match="o.npz: X or y holds Python objects"):
        load_data(_cfg("npz", tmp_path / "o.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match="junk.npz: not an .npz archive"):
        load_data(_cfg("npz", tmp_path / "junk.npz"))
    with pytest.raises(DataFileError, match="no such file"):
        load_data(_cfg("csv", tmp_path / "nope.csv"))
    with pytest.raises(DataFileError, match="data.path is empty"):
        load_data(_cfg("csv", ""))


def test_image_folder_with_unreadable_file_names_it(tmp_path):
    _make_images(tmp_path / "imgs")
    bad = tmp_path / "imgs" / "square" / "broken.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataFileError, match=r"broken.png: unreadable image"):
        load_data(_cfg("image_folder", tmp_path / "imgs"))
    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(DataFileError, match="at least two classes"):
        load_data(_cfg("image_folder", tmp_path / "one"))


def test_bad_file_in_trainer_is_a_one_line_error(tmp_path):
    """The engine thread reports the message (ValueError subclass) instead of crashing."""
    from engine.events import ErrorRaised, EventChannel
    from engine.train.worker import EngineWorker

    p = _write_csv(tmp_path / "bad.csv", ["a", "b"], [[1, 0], [2, 1]])
    ch = EventChannel()
    w = EngineWorker(_cfg("csv", p), ch)
    w.start()
    import time

    deadline = time.time() + 5
    errs = []
    while time.time() < deadline and not errs:
        errs = [e for e in ch.drain() if isinstance(e, ErrorRaised)]
        time.sleep(0.02)
    w.shutdown()
    assert errs and errs[0].message.startswith(str(p)) and "no label column" in errs[0].message


def test_test_split_is_only_measured_when_the_run_is_over():
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "iris",
            "data.test_fraction": 0.2,
            "train.epochs": 3,
            "device": "cpu",
            "train.threads": 1,
            "model.hidden": [8],
        }
    )
    t = Trainer(cfg, hooks=[])
    assert len(t.data.x_test) == 30 and len(t.data.x_train) + len(t.data.x_val) == 120
    t.run(max_steps=2)
    assert "test_acc" not in t.final_metrics()  # paused mid-run: the test set stays untouched
    t.run()
    final = t.final_metrics()
    assert t.state == "finished" and 0.0 <= final["test_acc"] <= 1.0 and final["test_loss"] > 0
    assert final["test_acc"] == pytest.approx(t.evaluate(t.data.x_test, t.data.y_test)[1])
