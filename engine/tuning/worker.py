"""Trials in worker processes: `--jobs N` runs N trials at once, each in its own process.

Processes, not threads: training a small network is mostly Python, and the GIL would run
threads one at a time. The processes are started with multiprocessing's "spawn" (the same
on every platform, safe with torch's threads; a frozen bundle calls freeze_support at its
entry point), and `worker_main` is a module-level function so a spawned child can import it.

The protocol over each worker's pipe, as JSON-able tuples:
  parent → worker   ("trial", TrialTask fields) | ("go", bool) | ("quit",)
  worker → parent   ("epoch", EpochReport fields) | ("done", TrialOutcome JSON)
After each epoch the worker waits for ("go", keep_going): the pruner lives in the parent.
A search without a pruner (TrialTask.prune False) streams its epochs without waiting.

Starting a worker costs seconds (importing torch and the engine, a tiny warm-up trial that pays
torch's and numba's first-use costs, then building the data set), more than a small trial
trains. So workers are kept warm in one `POOL` per process: a search
takes its workers from the pool and gives the idle ones back when it ends, and each worker
keeps its data sets (`BundleCache`, by the config's data key) across trials, rounds and
searches. A worker still busy when a search is stopped is ended (its epoch may take long); one
that crashed is replaced. The pool's workers quit when the process exits, or on `POOL.shutdown()`
(the desktop calls it when its window closes).
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import threading
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

from engine.config import ExperimentConfig
from engine.tuning.kfold import BundleCache
from engine.tuning.options import usable_cores
from engine.tuning.trial import EpochReport, TrialOutcome, TrialTask, run_trial, trial_epochs


def worker_main(conn: Connection, threads: int) -> None:
    """A worker process's loop: run the trials it is sent until told to quit or the pipe closes."""
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's: it stops the search and us
    warm_up()
    torch.set_num_threads(threads)
    cache = BundleCache()
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] != "trial":
            return
        task = TrialTask(**msg[1])
        torch.set_num_threads(task.threads)  # this search's share of the cores (a pooled worker serves many)
        gen = trial_epochs(task, cache)
        try:
            report = next(gen)
            while True:
                conn.send(("epoch", asdict(report)))
                if not task.prune:
                    report = gen.send(True)
                    continue
                reply = conn.recv()
                if reply[0] != "go":
                    gen.close()
                    return
                report = gen.send(bool(reply[1]))
        except StopIteration as stop:
            conn.send(("done", stop.value.to_json()))
        except (EOFError, OSError, BrokenPipeError):
            return


WARM_UP = {"data.name": "moons", "data.n_samples": 40, "model.hidden": [4], "train.epochs": 1, "train.batch_size": 8}
"""A trial small enough to cost milliseconds, trained once by each new worker before its first trial."""


_warm = False


def warm_up() -> None:
    """Pay this process's one-time costs of training before its first trial (once; torch's
    thread count is left as it was): torch imports torch._dynamo at the first optimizer it
    builds (about 1.5 s of CPU) and numba loads the trainer's kernels at their first call
    (about 0.2 s). Paid inside the first trial they made it last some 30 times longer than
    the next (its duration in the Search tab) and, in a worker, the other worker trained alone
    meanwhile."""
    global _warm
    if _warm:
        return
    import torch

    threads = torch.get_num_threads()
    run_trial(TrialTask(-1, ExperimentConfig().with_updates(WARM_UP).model_dump_json(), prune=False), BundleCache(1))
    torch.set_num_threads(threads)
    _warm = True


def threads_per_worker(jobs: int, cores: int | None = None) -> int:
    """Torch threads for each of `jobs` workers so that jobs × threads ≤ cores."""
    return max(1, (cores or usable_cores()) // max(1, jobs))


class WorkerProcess:
    """One spawned worker and its end of the pipe; `task` is the trial it runs (None: idle)."""

    def __init__(self, threads: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=worker_main, args=(child, threads), daemon=True, name="descent-trial")
        self.process.start()
        child.close()
        self.task: TrialTask | None = None

    def start(self, task: TrialTask) -> None:
        self.task = task
        self.conn.send(("trial", asdict(task)))

    def receive(self) -> EpochReport | TrialOutcome:
        """The worker's next message (raises EOFError when the process ended)."""
        kind, data = self.conn.recv()
        if kind == "epoch":
            return EpochReport(**data)
        return TrialOutcome.from_json(data)

    def reply(self, keep_going: bool) -> None:
        if self.task is not None and self.task.prune:
            self.conn.send(("go", keep_going))

    def exit_text(self) -> str:
        self.process.join(timeout=1.0)
        code = self.process.exitcode
        return f"worker process ended unexpectedly (exit code {code})"

    def close(self, timeout: float = 2.0) -> None:
        """Stop the worker: ask it to quit, then terminate it if it does not (it may be mid-epoch)."""
        try:
            self.conn.send(("quit",))
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout=0.2 if self.task is not None else timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=timeout)
        self.conn.close()


class WorkerPool:
    """Warm worker processes shared by the searches of this process (thread-safe: the desktop
    runs searches on a job thread). Idle workers are kept up to the number of cores."""

    def __init__(self) -> None:
        self._idle: list[WorkerProcess] = []
        self._lock = threading.Lock()
        self.started = 0  # workers started over the pool's life (a test and the benchmark read it)
        atexit.register(self.shutdown)

    def take(self, n: int, threads: int) -> list[WorkerProcess]:
        """`n` workers: idle ones that are still alive first, new ones for the rest."""
        with self._lock:
            alive = [w for w in self._idle if process_alive(w)]
            for w in self._idle:
                if w not in alive:
                    w.close()
            taken, self._idle = alive[:n], alive[n:]
            self.started += n - len(taken)
        return taken + [WorkerProcess(threads) for _ in range(n - len(taken))]

    def replace(self, worker: WorkerProcess, threads: int) -> WorkerProcess:
        """A fresh worker in place of one that crashed (or was ended mid-trial)."""
        worker.close()
        with self._lock:
            self.started += 1
        return WorkerProcess(threads)

    def give_back(self, workers: list[WorkerProcess]) -> None:
        """Idle, living workers go back to the pool; a busy one (a stopped search's) is ended."""
        keep: list[WorkerProcess] = []
        for w in workers:
            if w.task is None and process_alive(w):
                keep.append(w)
            else:
                w.close()
        with self._lock:
            room = max(0, usable_cores() - len(self._idle))
            self._idle.extend(keep[:room])
        for w in keep[room:]:
            w.close()

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def idle_pids(self) -> list[int]:
        """The idle workers' process ids (the benchmark reads their CPU time)."""
        with self._lock:
            return [w.process.pid for w in self._idle if w.process.pid is not None]

    def shutdown(self) -> None:
        """End every idle worker (a search still running keeps its own until it ends)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.close()


POOL = WorkerPool()


def process_alive(worker: WorkerProcess) -> bool:
    return worker.process.is_alive()


def connections(workers: list[WorkerProcess]) -> list[Any]:
    return [w.conn for w in workers if w.task is not None]
