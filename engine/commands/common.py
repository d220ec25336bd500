"""Helpers shared by the headless commands: config loading, errors, progress."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.config import MAX_CONFIG_JSON_BYTES, ConfigError, ExperimentConfig, parse_set_args


class CommandError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def load_config(config_path: str | None, sets: list[str] | None) -> ExperimentConfig:
    """The config from an optional JSON file plus --set overrides; raises CommandError."""
    cfg = ExperimentConfig()
    if config_path:
        p = Path(config_path)
        if not p.is_file():  # also refuses devices and FIFOs, which could block or never end
            raise CommandError(f"{p}: no such config file")
        try:
            with p.open("rb") as f:
                text = f.read(MAX_CONFIG_JSON_BYTES + 1)  # from_json refuses more than the limit
            cfg = ExperimentConfig.from_json(text)
        except OSError as e:
            raise CommandError(f"{p}: cannot read ({e.strerror or e})") from None
        except ConfigError as e:
            raise CommandError(f"{p}: {e}") from None
    try:
        return cfg.with_updates(parse_set_args(sets or []))
    except ConfigError as e:
        raise CommandError(str(e)) from None


class ProgressBar:
    """A one-line text progress bar on stderr (no dependency)."""

    def __init__(self, total: int, label: str = "", stream=None, width: int = 30) -> None:
        self.total, self.label, self.width = max(1, total), label, width
        self.stream = stream or sys.stderr
        self._last = -1

    def update(self, done: int, suffix: str = "") -> None:
        frac = min(1.0, done / self.total)
        pct = int(frac * 100)
        if pct == self._last and done < self.total:
            return
        self._last = pct
        bar = "#" * int(frac * self.width)
        self.stream.write(f"\r{self.label} [{bar:<{self.width}}] {pct:3d}% {suffix}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
