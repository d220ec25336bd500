"""The explicit, separate step after a search: the best trial evaluated once on the test split.

A search never reads the test split (engine/tuning/kfold.py). This retrains the best trial's
config on the run's own training split, with its seed (so it trains as it did in the
search under hold-out validation), measures the test split once, and the snapshot records
that it was done. Without a test split it says so: setting one changes the training data,
so the search has to be run again.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import UTC, datetime

from engine.data import load_data
from engine.tuning.search import SearchError
from engine.tuning.snapshot import SearchSnapshot
from engine.tuning.space import trial_config
from engine.tuning.trial import training_hooks


def evaluate_best_on_test(snapshot: SearchSnapshot) -> SearchSnapshot:
    """The snapshot with `test_evaluation` recorded; SearchError without a test split or trial."""
    from engine.train.trainer import Trainer

    base = snapshot.base
    if base.data.test_fraction <= 0:
        raise SearchError(
            "this search has no test split (data.test_fraction is 0): set one, e.g. --set data.test_fraction=0.2, "
            "and search again (the training data changes with it)"
        )
    best = snapshot.best(1)
    if not best:
        raise SearchError("no complete trial to evaluate on the test split")
    trial = best[0]
    config, _notes = trial_config(base, trial.params)
    t0 = time.perf_counter()
    trainer = Trainer(config, run_id=f"trial{trial.number}/test", data=load_data(config), hooks=training_hooks)
    trainer.run()
    x, y = trainer.data.x_test, trainer.data.y_test
    assert x is not None and y is not None  # a split of test_fraction > 0
    test_loss, test_acc = trainer.evaluate(x, y)
    record = {
        "trial": trial.number,
        "params": trial.params,
        "val_loss": trial.score,
        "test_loss": test_loss if math.isfinite(test_loss) else None,
        "test_acc": test_acc,
        "n_test": int(x.shape[0]),
        "state": trainer.state.value,
        "seconds": round(time.perf_counter() - t0, 3),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return replace(snapshot, test_evaluation=record)
