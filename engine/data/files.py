"""The user's own data: a CSV with a label column, an NPZ with X and y, a folder of images.

Every file is untrusted input: problems raise DataFileError with one line naming the file
and what is wrong (missing column, non-numeric cell, NaN, single class, unreadable image,
mismatched lengths), never a traceback. NPZ files are read with allow_pickle=False.
"""

from __future__ import annotations

import csv
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
MAX_ROWS = 2_000_000


class DataFileError(ValueError):
    """A user data file that cannot be used; the message names the file and the problem."""


@dataclass
class LoadedData:
    """Features (N, F) float64, integer labels 0..C-1, one sample's shape and the class names."""

    X: np.ndarray
    y: np.ndarray
    input_shape: tuple[int, ...]
    class_names: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)


def encode_labels(raw: np.ndarray, source: str) -> tuple[np.ndarray, list[str]]:
    """Map any labels (numbers or strings) to 0..C-1 in sorted order; at least two classes."""
    classes, y = np.unique(raw, return_inverse=True)
    if len(classes) < 2:
        only = _label_text(classes[0]) if len(classes) else "none"
        raise DataFileError(f"{source}: only one class ({only}) — a classifier needs at least two")
    return y.astype(np.int64), [_label_text(c) for c in classes]


def _label_text(c) -> str:
    if isinstance(c, (float, np.floating)) and float(c).is_integer():
        return str(int(c))
    return str(c)


def _check_path(path: str, what: str, want_dir: bool = False) -> Path:
    if not path.strip():
        raise DataFileError(f"data.path is empty: choose the {what}")
    p = Path(path).expanduser()
    if want_dir:
        if not p.is_dir():
            raise DataFileError(f"{p}: no such folder")
    elif not p.is_file():
        raise DataFileError(f"{p}: no such file")
    return p


def load_csv(path: str, label_column: str) -> LoadedData:
    """A CSV file with a header row; every column but `label_column` is a numeric feature."""
    p = _check_path(path, "CSV file")
    try:
        with p.open(newline="", encoding="utf-8-sig") as f:
            sample = f.read(65536)
            f.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            rows = csv.reader(f, dialect)
            header = next(rows, None)
            if header is None:
                raise DataFileError(f"{p}: the file is empty")
            header = [h.strip() for h in header]
            if label_column not in header:
                raise DataFileError(
                    f"{p}: no label column '{label_column}' (columns: {', '.join(header[:12])}"
                    f"{', ...' if len(header) > 12 else ''}) — set data.label_column"
                )
            li = header.index(label_column)
            feat_idx = [i for i in range(len(header)) if i != li]
            if not feat_idx:
                raise DataFileError(f"{p}: no feature columns besides the label column '{label_column}'")
            X_rows: list[list[float]] = []
            labels: list[str] = []
            for line_no, row in enumerate(rows, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise DataFileError(f"{p}: line {line_no} has {len(row)} cells, the header has {len(header)}")
                vals = []
                for i in feat_idx:
                    cell = row[i].strip()
                    if cell == "" or cell.lower() in ("na", "n/a", "null", "none"):
                        raise DataFileError(
                            f"{p}: line {line_no}, column '{header[i]}': missing value (empty cell)"
                            " — fill or drop the row"
                        )
                    try:
                        v = float(cell)
                    except ValueError:
                        raise DataFileError(
                            f"{p}: line {line_no}, column '{header[i]}': '{cell[:30]}' is not a number"
                        ) from None
                    if not math.isfinite(v):
                        raise DataFileError(
                            f"{p}: line {line_no}, column '{header[i]}': missing value ({cell or 'empty'})"
                            " — NaN/inf cannot be trained on; fill or drop the row"
                        )
                    vals.append(v)
                label = row[li].strip()
                if label == "" or label.lower() in ("nan", "na", "null"):
                    raise DataFileError(f"{p}: line {line_no}: missing label in column '{label_column}'")
                X_rows.append(vals)
                labels.append(label)
                if len(X_rows) > MAX_ROWS:
                    raise DataFileError(f"{p}: more than {MAX_ROWS} rows")
    except UnicodeDecodeError:
        raise DataFileError(f"{p}: not a UTF-8 text file") from None
    except csv.Error as e:
        raise DataFileError(f"{p}: malformed CSV ({e})") from None
    except OSError as e:
        raise DataFileError(f"{p}: cannot read ({e.strerror or e})") from None
    if not X_rows:
        raise DataFileError(f"{p}: no data rows below the header")
    raw = np.asarray(labels)
    try:  # numeric labels sort numerically (2 < 10), text labels alphabetically
        raw = np.asarray([float(v) for v in labels])
    except ValueError:
        pass
    y, names = encode_labels(raw, str(p))
    feats = [header[i] for i in feat_idx]
    return LoadedData(np.asarray(X_rows, dtype=np.float64), y, (len(feats),), names, feats)


def load_npz(path: str) -> LoadedData:
    """An .npz archive with arrays X (N, ...) and y (N,); never unpickles."""
    p = _check_path(path, "NPZ file")
    if not zipfile.is_zipfile(p):
        raise DataFileError(f"{p}: not an .npz archive (save one with numpy.savez(path, X=..., y=...))")
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = set(z.files)
            missing = [k for k in ("X", "y") if k not in keys]
            if missing:
                raise DataFileError(
                    f"{p}: missing array {' and '.join(missing)} (found: {', '.join(sorted(keys)) or 'none'})"
                )
            X = np.asarray(z["X"])
            y_raw = np.asarray(z["y"])
    except DataFileError:
        raise
    except ValueError:  # object arrays need pickle: refused, a data file never runs code
        raise DataFileError(
            f"{p}: X or y holds Python objects (pickled data is never loaded); save numeric arrays"
        ) from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataFileError(f"{p}: not a readable .npz archive ({e})") from None
    if X.ndim < 2 or X.shape[0] == 0:
        raise DataFileError(f"{p}: X must have shape (samples, features...), got {X.shape}")
    if y_raw.ndim != 1:
        raise DataFileError(f"{p}: y must be one label per sample (1-D), got shape {y_raw.shape}")
    if X.shape[0] != y_raw.shape[0]:
        raise DataFileError(f"{p}: X has {X.shape[0]} samples but y has {y_raw.shape[0]} labels")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise DataFileError(f"{p}: X must be numeric, got dtype {X.dtype}")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        bad = int(np.argwhere(~np.isfinite(X.reshape(len(X), -1)))[0, 0])
        raise DataFileError(f"{p}: X contains NaN or inf (first at sample {bad})")
    if y_raw.dtype.kind == "f" and not np.isfinite(y_raw).all():
        raise DataFileError(f"{p}: y contains NaN or inf")
    y, names = encode_labels(y_raw, str(p))
    if X.ndim == 4 and X.shape[-1] in (1, 3, 4) and X.shape[1] not in (1, 3, 4):
        X = X.transpose(0, 3, 1, 2)  # channels-last images (N, H, W, C) → (N, C, H, W)
    if X.ndim > 4:
        raise DataFileError(f"{p}: X must be (N, features), (N, H, W) or (N, C, H, W), got shape {X.shape}")
    shape = tuple(int(s) for s in X.shape[1:])
    if len(shape) == 2:  # (N, H, W) grayscale images → one channel
        shape = (1, *shape)
    return LoadedData(np.ascontiguousarray(X).reshape(len(X), -1), y, shape, names)


def load_image_folder(path: str, size: int, grayscale: bool = True) -> LoadedData:
    """root/<class>/<image>: every image resized to size×size, values in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    root = _check_path(path, "image folder", want_dir=True)
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(class_dirs) < 2:
        raise DataFileError(
            f"{root}: needs one subfolder per class and at least two classes, found {len(class_dirs)} subfolder(s)"
        )
    xs: list[np.ndarray] = []
    ys: list[int] = []
    names: list[str] = []
    for d in class_dirs:
        files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataFileError(f"{d}: no image files ({', '.join(IMAGE_SUFFIXES[:4])}, ...) in this class folder")
        k = len(names)
        names.append(d.name)
        for f in files:
            try:
                with Image.open(f) as raw:
                    im = raw.convert("L" if grayscale else "RGB").resize((size, size), Image.Resampling.BILINEAR)
                    a = np.asarray(im, dtype=np.float64) / 255.0
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
                raise DataFileError(f"{f}: unreadable image ({type(e).__name__}: {str(e)[:80]})") from None
            xs.append(a[None] if grayscale else a.transpose(2, 0, 1))
            ys.append(k)
    X = np.stack(xs)
    return LoadedData(X.reshape(len(X), -1), np.asarray(ys, dtype=np.int64), tuple(X.shape[1:]), names)
