"""The Curves' ghost runs in session files (format 5): saved, read back, optional for
older files, and malformed members named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.session import FORMAT_VERSION, Session, load_session, save_session
from engine.session.ghosts import Ghost, GhostError, store_ghosts, stored_ghosts

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "format2_main.descent"


def _ghost(name: str, n: int, scale: float) -> Ghost:
    steps = np.arange(1, n + 1, dtype=np.float64)
    return Ghost(
        name,
        {
            "step/loss": scale / steps,
            "step/lr": np.full(n, 0.01),
            "step/grad_norm": np.ones(n),
            "step/wall": steps * 0.01,
            "epoch/step": np.array([n / 2, n]),
            "epoch/val_acc": np.array([0.5, 0.75]),
        },
        steps_per_epoch=n / 2,
    )


def test_ghosts_round_trip_through_a_file_newest_three_kept(tmp_path):
    assert FORMAT_VERSION == 5
    s = Session()
    store_ghosts(s, [_ghost(f"run{i}", 10 + i, float(i)) for i in range(1, 5)])  # four: the oldest dropped
    back = load_session(save_session(s, tmp_path / "g.descent"))
    assert back.format_version == 5
    ghosts = stored_ghosts(back)
    assert [g.name for g in ghosts] == ["run2", "run3", "run4"]
    assert ghosts[0].steps_per_epoch == 6.0
    np.testing.assert_array_equal(ghosts[-1].series["step/loss"], 4.0 / np.arange(1, 15))
    np.testing.assert_array_equal(ghosts[-1].series["epoch/val_acc"], [0.5, 0.75])
    store_ghosts(back, [])  # none: the members go
    assert "ghosts" not in back.meta and not any(k.startswith("ghosts/") for k in back.arrays)


def test_older_files_have_no_ghosts_and_malformed_ones_are_named():
    old = load_session(FIXTURE)
    assert old.format_version == 2 and stored_ghosts(old) == []
    s = Session()
    store_ghosts(s, [_ghost("a", 4, 1.0)])
    s.meta["ghosts"][0]["steps_per_epoch"] = "many"
    with pytest.raises(GhostError, match="steps_per_epoch"):
        stored_ghosts(s)
    s.meta["ghosts"] = {"name": "a"}
    with pytest.raises(GhostError, match="list"):
        stored_ghosts(s)
    s.meta["ghosts"] = [{"name": "a", "steps_per_epoch": 2}]
    s.arrays["ghosts/0/step/loss"] = np.ones((2, 2))
    with pytest.raises(GhostError, match="1-D"):
        stored_ghosts(s)
