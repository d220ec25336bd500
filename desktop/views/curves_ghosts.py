"""The Curves' ghosts kept in a saved session and brought back when it is opened
(engine/session/ghosts.py holds the format)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.events import series_events
from engine.session.ghosts import Ghost, GhostError, store_ghosts, stored_ghosts

if TYPE_CHECKING:
    from desktop.views.curves import CurvesView, RunCurves


def ghost_of(name: str, run: RunCurves) -> Ghost:
    """A ghost's series, named as a run's series are."""
    series = {
        "step/loss": run.loss.view(),
        "step/lr": run.lr.view(),
        "step/grad_norm": run.grad_norm.view(),
        "step/wall": run.wall.view(),
        "epoch/step": run.epoch_step.view(),
    }
    series |= {f"epoch/{k}": v.view() for k, v in run.epoch.items()}
    return Ghost(name, {k: v.copy() for k, v in series.items()}, run.steps_per_epoch_hint)


def save_ghosts(view: CurvesView, session) -> None:
    """The view's ghosts into a session being saved."""
    store_ghosts(session, [ghost_of(name, run) for name, run, _loss, _acc in view.ghosts])


def load_ghosts(view: CurvesView, session) -> list[tuple[str, RunCurves]]:
    """The opened session's ghosts (name, curves), oldest first, to replace the view's (none
    in files before format 5); a malformed member is named in a notice and none come back."""
    from desktop.views.curves import RunCurves

    try:
        ghosts = stored_ghosts(session)
        runs = []
        for g in ghosts:
            run = RunCurves(view.alpha)
            for e in series_events("", g.series):
                run.add(e)
            run.steps_per_epoch_hint = g.steps_per_epoch
            runs.append((g.name, run))
    except (GhostError, ValueError) as e:
        view.controller.notice.emit(f"the saved ghost runs cannot be read: {e}", "error")
        return []
    return runs
