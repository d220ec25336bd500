"""A small, fast main run for window tests: 2 epochs of a 200-sample 2D set through one
8-unit layer, with the costly features off (a test turns on what it looks at)."""

SMALL_RUN = {
    "train.epochs": 2,
    "data.n_samples": 200,
    "model.hidden": [8],
    "device": "cpu",
    "probes.enabled": False,
    "diagnostics.enabled": False,
    "metrics.enabled": False,
}
