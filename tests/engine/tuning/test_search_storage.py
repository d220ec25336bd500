"""Where a study lives: the session file (format 4) and an Optuna RDB storage (sqlite), resumed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import optuna
import pytest

from engine.config import ExperimentConfig
from engine.jobs import run_job
from engine.session import FORMAT_VERSION, Session, SessionError, load_session, save_session
from engine.states import RunState
from engine.tuning.search import SearchError, SearchRun, SearchSettings
from engine.tuning.space import parse_space
from engine.tuning.storage import load_search, save_search, search_of

FIXTURE = Path(__file__).parents[2] / "fixtures" / "format2_main.descent"
BASE = {
    "data.name": "moons",
    "data.n_samples": 200,
    "model.hidden": [8],
    "train.batch_size": 32,
    "train.epochs": 2,
    "optim.name": "sgd",
}


def _settings(
    storage: str = "", trials: int = 3, name: str = "lrs", space: str = "optim.lr=log:1e-3:1"
) -> SearchSettings:
    return SearchSettings(
        ExperimentConfig().with_updates(BASE),
        parse_space([space]),
        trials=trials,
        storage=storage,
        study_name=name,
        seed=0,
    )


def test_sqlite_and_session_round_trip_and_resume(tmp_path: Path, one_torch_thread) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    snap = run_job(SearchRun(_settings(url)).job())
    assert len(snap.complete) == 3
    out = save_search(snap, tmp_path / "s.descent")
    back = load_search(out)
    assert [(t.number, t.params, t.score, t.curve, t.state) for t in back.trials] == [
        (t.number, t.params, t.score, t.curve, t.state) for t in snap.trials
    ]
    assert back.rounds == snap.rounds and back.base == snap.base and back.storage == url
    assert load_session(out).format_version == FORMAT_VERSION == 5

    study = optuna.load_study(study_name="lrs", storage=url)  # Optuna itself reads the study
    assert [t.value for t in study.trials] == [t.score for t in snap.trials]
    assert [t.params["optim.lr"] for t in study.trials] == [t.params["optim.lr"] for t in snap.trials]
    assert [len(t.intermediate_values) for t in study.trials] == [2, 2, 2]

    resumed = run_job(SearchRun(_settings(url, trials=5)).job())  # the storage holds 3: two more run
    assert len(resumed.complete) == 5
    assert [(t.params, t.score, t.curve) for t in resumed.trials[:3]] == [
        (t.params, t.score, t.curve) for t in snap.trials
    ]
    assert len(optuna.load_study(study_name="lrs", storage=url).trials) == 5


def test_a_storage_holding_another_study_is_refused_with_both_names(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    optuna.create_study(study_name="someone-elses", storage=url)
    with pytest.raises(SearchError) as e:
        run_job(SearchRun(_settings(url, name="mine")).job())
    assert "someone-elses" in str(e.value) and "mine" in str(e.value)
    url2 = f"sqlite:///{tmp_path / 'mine.db'}"
    optuna.create_study(study_name="mine", storage=url2).set_user_attr("space", ["optim.lr=log:1e-05:1"])
    with pytest.raises(SearchError, match="searched over"):
        run_job(SearchRun(_settings(url2, name="mine")).job())


def test_older_sessions_open_without_a_search_and_a_malformed_search_is_named(tmp_path: Path) -> None:
    old = load_session(FIXTURE)
    assert old.format_version == 2 and search_of(old) is None
    with pytest.raises(SessionError, match="holds no search"):
        load_search(FIXTURE)
    bad = tmp_path / "bad.descent"
    save_session(Session(meta={"search": {"trials": [{"number": "x", "params": {}}]}}), bad)
    with pytest.raises(SessionError, match="trial entry 1 number"):
        load_search(bad)
    bad_state = tmp_path / "bad2.descent"
    save_session(Session(meta={"search": {"trials": [{"number": 1, "state": "exploded", "params": {}}]}}), bad_state)
    with pytest.raises(SessionError, match="unknown state"):
        load_search(bad_state)


def test_session_members_are_json_and_npy_only(tmp_path: Path) -> None:
    from engine.tuning.snapshot import Round, SearchSnapshot, TrialRecord

    snap = SearchSnapshot(
        "x",
        ExperimentConfig(),
        (Round(1, ("optim.lr=log:1e-05:1",), "random"),),
        (TrialRecord(0, 1, RunState.PRUNED, {"optim.lr": 0.1}, curve=(1.0, 0.5)),),
    )
    out = save_search(snap, tmp_path / "t.descent")
    names = zipfile.ZipFile(out).namelist()
    assert "arrays/search/00000/val_loss.npy" in names
    assert all(n.endswith((".json", ".npy")) for n in names)
    meta = json.loads(zipfile.ZipFile(out).read("meta.json"))
    assert meta["search"]["trials"][0]["state"] == "pruned" and meta["search"]["trials"][0]["score"] is None
    assert load_search(out).trials[0].curve == (1.0, 0.5)


def test_a_trial_left_running_by_a_killed_process_is_failed_and_not_counted(tmp_path, one_torch_thread) -> None:
    import socket
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'study.db'}"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    study = optuna.create_study(study_name="lrs", storage=url, direction="minimize")
    orphan = study.ask({"optim.lr": optuna.distributions.FloatDistribution(1e-3, 1, log=True)})
    orphan.set_user_attr("owner", f"{gone.stdout.strip()}@{socket.gethostname()}")  # that process has ended
    snap = run_job(SearchRun(_settings(url, trials=3)).job())
    assert len(snap.complete) == 3  # the orphan did not take one of the three places
    failed = [t for t in snap.trials if t.state == RunState.ERROR]
    assert [t.number for t in failed] == [orphan.number] and "marked failed when resumed" in failed[0].message
    assert snap.notes and "left running" in snap.notes[-1]
    stored = optuna.load_study(study_name="lrs", storage=url).get_trials()
    assert stored[orphan.number].state == optuna.trial.TrialState.FAIL and len(stored) == 4
