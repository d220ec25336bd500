"""What kind of data set a config names, without torch: the window labels its plots with it
before the engine has loaded (engine.data.datasets loads the data)."""

from __future__ import annotations

from engine.config import DATASETS, SYNTHETIC_2D, DataConfig

TABULAR = ("breast_cancer", "wine", "iris")
# the data sets the Init explorer (and its lessons) offer: every one that needs no file
EXPLORER_DATASETS: tuple[str, ...] = tuple(d for d in DATASETS if d not in ("csv", "npz", "image_folder"))


def preprocess_kind(cfg: DataConfig) -> str:
    """'auto' standardizes features on arbitrary scales (2D sets, tabular sets, user CSV/NPZ
    tables: blobs' centres reach ±10, which would make a random network's initial outputs
    far from uniform); images keep their pixel scale."""
    if cfg.preprocess != "auto":
        return cfg.preprocess
    return "standardize" if cfg.name in SYNTHETIC_2D + TABULAR + ("csv", "npz") else "none"
