"""The trainer: one run, stepped one minibatch at a time, with full-resolution history.

Per-step scalars (loss, gradient norm) stay on the device in small buffers and are read
once every `train.report_every` steps, so there is no host-device synchronization per
step; on the CPU, where reading them costs nothing to wait for, they are Python floats
from the start (engine/train/kernels.py computes the gradient norm). The learning rate is
a Python float and costs nothing to record.
"""

from __future__ import annotations

import copy
import math
import operator
import time
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.augment import build_augmenter
from engine.config import LIVE_KEYS, ExperimentConfig, OptimConfig
from engine.data import DataBundle, load_data
from engine.events import EpochEnd, Event, Notice, StepBatch
from engine.model import build_model
from engine.model.mlp import dropout_rng_states, set_dropout_rng_states
from engine.model.modes import mode_dependent
from engine.optim import apply_live_edit, build_optimizer, build_schedule
from engine.states import TERMINAL, RunState
from engine.train.device import choose_threads, resolve_device
from engine.train.gradients import StepGradients
from engine.train.hooks import TrainerHook
from engine.train.kernels import correct_count, loss_and_correct
from engine.train.series import Series
from engine.train.statecopy import StateCopy

HookFactory = Callable[[ExperimentConfig, DataBundle], Sequence[TrainerHook]]
_NO_STEP_HOOKS: tuple[list[TrainerHook], list[TrainerHook], list[TrainerHook]] = ([], [], [])

DIVERGED_MESSAGE = "loss became {value} at step {step}: {cause}, then resume from the last good weights or restart"

# Optimizers whose update divides by sqrt(second moment) + eps: a tiny eps lets a near-zero
# moment blow a step up.
EPS_OPTIMIZERS = ("adam", "adamw", "rmsprop", "adagrad")
TINY_EPS = 1e-10
# Batch norm over fewer samples than this gives batch statistics too noisy to train on.
BN_MIN_BATCH = 4
TRAIN_EVAL_SAMPLES = 512
"""Training samples (a fixed, seeded subset) on which the eval-mode training loss is measured."""
EVAL_CHUNK = 8192
"""Most samples of one evaluation forward pass on a GPU."""
EVAL_CHUNK_CPU = 512
"""... and on the CPU. Larger passes slowed the training steps that follow them: with the
training subset and the 360 validation samples of digits in one pass of 872, every step of
the next epoch took 10-15 µs longer (2 torch threads; bench_trainer.py's model, about 3% of
its run). The cause is not known: not the pass's threads (one thread does the same), nor the
allocator returning memory (malloc_trim, glibc's thresholds). Passes of 512 or 256 samples
do not do it."""


def divergence_cause(config: ExperimentConfig, batch_size: int, lr: float) -> str:
    """The likely cause of a divergence, as advice: an eps too small for an optimizer that
    divides by it, batch norm over a tiny batch, or (otherwise) a learning rate too high."""
    optim = config.optim
    if optim.name in EPS_OPTIMIZERS and optim.eps < TINY_EPS:
        return f"{optim.name}'s eps ({optim.eps:g}) is likely too small — raise it (e.g. to 1e-8)"
    if config.model.uses_batch_norm() and batch_size < BN_MIN_BATCH:
        return (
            f"batch norm over batches of {batch_size} (under {BN_MIN_BATCH}) is likely unstable — "
            "use a larger batch or turn batch norm off"
        )
    return f"the learning rate ({lr:g}) is likely too high — lower it"


class Trainer:
    """Builds data, model, optimizer and schedule from a config and trains step by step.

    The lifecycle: start (hooks set up), train_step / run, flush (report the buffered
    steps), stop, and state_dict / load_state_dict (everything a continued run needs).
    `hooks` is a list, or a factory called with the config and data (engine.experiment's
    build_hooks gives a run the features its config asks for); None: a bare run. The
    Trainer is the hooks' RunContext (engine/train/context.py)."""

    REPORT_INTERVAL_S = 0.1  # slow runs still report at least this often

    def __init__(
        self,
        config: ExperimentConfig,
        emit: Callable[[Event], None] | None = None,
        run_id: str = "run",
        data: DataBundle | None = None,
        hooks: Sequence[TrainerHook] | HookFactory | None = None,
    ) -> None:
        self.config = config
        self.run_id = run_id
        self.emit = emit or (lambda e: None)
        self.device = resolve_device(config.device)
        self.data = (data or load_data(config)).to(self.device)
        self.model: nn.Module = build_model(
            config.model, self.data.n_features, self.data.n_classes, config.seed, input_shape=self.data.input_shape
        ).to(self.device)
        self.threads = choose_threads(config.train.threads, self.device, self.model, config.train.batch_size)
        self.initial_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.optimizer = build_optimizer(self.model.parameters(), config.optim)
        self.n_train = int(self.data.x_train.shape[0])
        self.batch_size = min(config.train.batch_size, self.n_train)
        self.steps_per_epoch = math.ceil(self.n_train / self.batch_size)
        self.schedule = build_schedule(self.optimizer, config, self.steps_per_epoch)
        self.loss_fn = nn.CrossEntropyLoss()
        # Batch order: its own generator, so the same seed gives the same batches whatever
        # the model does with the global RNG (dropout, noise).
        self.batch_generator = torch.Generator().manual_seed(config.seed + 1)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        # The fixed training subset on which the eval-mode training loss is measured each
        # epoch (dropout off, batch norm on its running estimates: the model a user deploys).
        pick = torch.randperm(self.n_train, generator=torch.Generator().manual_seed(config.seed + 4))
        pick = pick[:TRAIN_EVAL_SAMPLES].sort().values.to(self.device)
        self._x_train_eval, self._y_train_eval = self.data.x_train[pick], self.data.y_train[pick]
        self.eval_chunk = EVAL_CHUNK_CPU if self.device.type == "cpu" else EVAL_CHUNK

        self.step = 0
        self.epoch = 0
        self.state = RunState.IDLE
        self.message = ""
        self._pos = self.n_train  # forces a new permutation at the first step
        self._perm: torch.Tensor | None = None
        self.last_batch_indices: torch.Tensor | None = None

        # Per-step values are kept as references to device tensors (no copy, no sync) and
        # read in one go every `train.report_every` steps.
        self.report_every = config.train.report_every
        # On the CPU the loss and gradient norm are read as floats each step (no device to
        # wait for, and cheaper than stacking 0-d tensors later); elsewhere they stay tensors.
        self._host_scalars = self.device.type == "cpu"
        # One row per step: (loss, global gradient norm, lr, batch size, logits, labels); the
        # logits and labels give the running accuracy. One append per step, split at the flush.
        self._buf: list[tuple] = []
        # Clearing the gradients (set to None) and their global norm (engine/train/gradients.py).
        self._grads = StepGradients(self.device)
        self._epoch_loss_sum = 0.0
        self._epoch_correct = 0
        self._epoch_seen = 0
        # The last state known to give a finite loss (restored when a run diverges): every
        # parameter, then every registered buffer (batch norm's running statistics).
        self._n_good_params = len(list(self.model.parameters()))
        # Buffers a checkpoint restored to their fresh values (load_state_dict, older files).
        self.fresh_buffer_names: list[str] = []
        self._good = StateCopy(self._live_state())
        self._pending = StateCopy(self._live_state())
        self._pending_finite: torch.Tensor | bool = True  # every value of _pending is finite
        self._snap_owner: list | None = None  # self.params when _snap was taken
        self._snap: list[torch.Tensor] = []  # the live parameters and buffers
        self._pending_ok = True  # the weights at init are judged by the first window
        # The optimizer settings the optimizer runs with (built with, or edited to since).
        self._optim_cfg = config.optim
        self._loss_ref: float | None = None
        self._t_last_flush = self._t_flush = time.perf_counter()
        self._steps_at_last_flush = 0
        # Wall time (series "step/wall"): seconds since the run started, pauses included, as
        # TensorBoard's relative time; a continued run goes on from its saved last value.
        self._wall_origin: float | None = None
        self._wall_last = 0.0
        self.steps_per_s = 0.0

        self.series: dict[str, Series] = {}
        self.shared: dict[str, Any] = {}  # what one feature publishes for another (RunContext.shared)
        self.hooks: list[TrainerHook] = list(hooks(config, self.data) if callable(hooks) else hooks or [])
        self._hooks_ready = False  # setup has run
        self._resumed = False  # load_state_dict has run: start calls on_resume, not on_start
        self._epoch_metrics: dict[str, float] | None = None  # during on_epoch_end (record_epoch)
        self._phase_key: tuple | None = None
        self._phase_hooks: tuple = ([], [], [])
        self._started = False
        self._stop_message = ""  # set by request_stop (early stopping): the run ends after this epoch
        self._needs_pairs = config.model.uses_batch_norm()
        self._modes_of: nn.Module | None = None  # the model _mode_dependent was found for
        self._mode_dependent = True
        # Augmentation of training batches only (None when off: no per-step cost).
        self.augment = build_augmenter(
            config.augment, self.data.input_shape, self.data.value_range, self.device, config.seed + 2
        )
        if self.augment is not None and self.augment.ignored:
            self.emit(
                Notice(
                    run_id,
                    f"augment: {', '.join(self.augment.ignored)} apply only to image data; "
                    f"ignored for '{self.data.name}'",
                    "warning",
                )
            )

    # -- series --------------------------------------------------------------------------
    def _series(self, name: str) -> Series:
        s = self.series.get(name)
        if s is None:
            s = self.series[name] = Series()
        return s

    def read_series(self, name: str) -> np.ndarray:
        """A recorded series at full resolution (empty when there is none yet)."""
        s = self.series.get(name)
        return s.array() if s is not None else np.zeros(0)

    def record_epoch(self, name: str, value: float, series: bool = True) -> None:
        """Add a hook's per-epoch value to this epoch's metrics (the EpochEnd event carries
        them) and, with `series`, to the series "epoch/<name>". Only during on_epoch_end."""
        if self._epoch_metrics is None:
            raise RuntimeError(f"record_epoch('{name}') outside on_epoch_end")
        self._epoch_metrics[name] = value
        if series:
            self._series(f"epoch/{name}").append(value)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def train_eval_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The fixed training subset (≤ TRAIN_EVAL_SAMPLES samples) of the eval-mode training loss."""
        return self._x_train_eval, self._y_train_eval

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.train.epochs

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def _setup_hooks(self) -> None:
        if not self._hooks_ready:
            self._hooks_ready = True
            for h in self.hooks:
                h.setup(self)

    def start(self) -> None:
        """Set the hooks up and show them the network before its first step here: on_start
        for a new run (weights at init), on_resume for a continued one. Once per Trainer."""
        if self._started:
            return
        self._started = True
        saved = self.series.get("step/wall")
        n_saved = len(self.series["step/loss"]) if "step/loss" in self.series else 0
        if n_saved > (len(saved) if saved is not None else 0):  # a run saved before wall times: NaN
            self._series("step/wall").extend(np.full(n_saved - (len(saved) if saved is not None else 0), np.nan))
        known = self.read_series("step/wall")
        known = known[np.isfinite(known)]
        self._wall_last = float(known[-1]) if len(known) else 0.0
        self._wall_origin = time.perf_counter() - self._wall_last
        self.model.train()
        self._setup_hooks()
        for h in self.hooks:
            if self._resumed:
                h.on_resume(self)
            else:
                h.on_start(self)

    # -- the step ------------------------------------------------------------------------
    def train_step(self) -> bool:
        """One minibatch step. Returns False once the run is over (finished or diverged)."""
        if self.finished:
            return False
        if not self._started:
            self.start()
        if self._perm is None or self._pos >= self.n_train:
            self._perm = torch.randperm(self.n_train, generator=self.batch_generator).to(self.device)
            self._pos = 0
        perm = self._perm
        idx = perm[self._pos : self._pos + self.batch_size]
        if self._needs_pairs and idx.shape[0] == 1:
            # Batch norm cannot normalize a single sample: the epoch's last batch borrows one.
            idx = perm[self._pos - 1 : self._pos + 1]
        self.last_batch_indices = idx
        xb = self.data.x_train[idx]
        yb = self.data.y_train[idx]
        if self.augment is not None:
            xb = self.augment(xb)
        before, after_backward, after = self._step_hooks() if self.hooks else _NO_STEP_HOOKS
        for h in before:
            h.before_step(self, xb, yb)
        out = self.model(xb)
        loss = self.loss_fn(out, yb)
        grads = self._grads
        grads.clear(self.params)
        loss.backward()
        for h in after_backward:
            h.after_backward(self)
        # the logits are detached when joined (flush): no tensor made per step
        lr = self.optimizer.param_groups[0]["lr"]
        if self._host_scalars:
            self._buf.append((loss.item(), grads.norm(), lr, idx.shape[0], out, yb))
        else:
            self._buf.append((loss.detach(), grads.norm_tensor(), lr, idx.shape[0], out, yb))
        self.optimizer.step()
        self.step += 1
        self.schedule.after_step()
        for h in after:
            h.after_step(self)
        self._pos += self.batch_size
        if (
            len(self._buf) >= self.report_every or time.perf_counter() - self._t_flush > self.REPORT_INTERVAL_S
        ) and not self.flush():
            return False
        if self._pos >= self.n_train:
            return self._end_epoch()
        return True

    def _step_hooks(self) -> tuple[list[TrainerHook], list[TrainerHook], list[TrainerHook]]:
        """The hooks that override before_step, after_backward and after_step (the others'
        are no-ops, not worth a call every step); rebuilt when the hook list changes."""
        key = (id(self.hooks), len(self.hooks))
        if self._phase_key != key:
            self._phase_key = key
            self._phase_hooks = tuple(
                [h for h in self.hooks if getattr(type(h), name) is not getattr(TrainerHook, name)]
                for name in ("before_step", "after_backward", "after_step")
            )
        return self._phase_hooks

    def flush(self) -> bool:
        """Read the step buffers (one sync), emit them, check for divergence; False when
        the run diverged.

        Runs once per epoch or `report_every` steps, after the training steps have pushed its
        code and data out of the caches: every extra tensor or numpy call costs several times
        its warm price here, so the small sums are plain Python over lists."""
        n = len(self._buf)
        if n == 0:  # (also after a divergence: its window was reported and cleared)
            return True
        losses, gns, lrs, sizes, out_list, y_list = zip(*self._buf)
        with torch.no_grad():
            outs = torch.cat(out_list)
        ys = torch.cat(y_list)
        if self._host_scalars:  # floats already (see __init__)
            # one conversion per series (numpy converts a nested list about twice as slowly:
            # 26 against 13 µs for a window of 23 steps, inside a run)
            loss, gn, lr = np.array(losses, np.float64), np.array(gns, np.float64), np.array(lrs, np.float64)
            correct = correct_count(outs, ys)  # compiled: cheaper than torch's argmax on the CPU
        else:  # one stack of all 0-d values and one device→host copy
            dtype = losses[0].dtype
            gns = gns if gns[0].dtype == dtype else tuple(g.to(dtype) for g in gns)
            hit = (outs.argmax(1) == ys).sum()
            packed = torch.stack([*losses, *gns, hit.to(dtype)]).cpu().numpy().astype(np.float64)
            correct = int(round(packed[-1]))
            loss, gn = packed[:n], packed[n : 2 * n]
            losses = loss.tolist()
            lr = np.array(lrs, dtype=np.float64)
        self._epoch_loss_sum += sum(map(operator.mul, losses, sizes))
        self._epoch_correct += correct
        self._epoch_seen += sum(sizes)
        steps = np.arange(self.step - n + 1, self.step + 1, dtype=np.int64)
        self._buf = []
        now = self._t_flush = time.perf_counter()
        dt = now - self._t_last_flush
        if dt > 0.2:
            self.steps_per_s = (self.step - self._steps_at_last_flush) / dt
            self._t_last_flush, self._steps_at_last_flush = now, self.step
        self._series("step/loss").extend(loss)
        self._series("step/lr").extend(lr)
        self._series("step/grad_norm").extend(gn)
        # the steps since the last read share its time span evenly (in Python: np.linspace's
        # checks, or array arithmetic, cost more here than a window's few floats)
        wall_now = now - (self._wall_origin if self._wall_origin is not None else now)
        w0, dw = self._wall_last, (wall_now - self._wall_last) / n
        wall = np.array([w0 + dw * i for i in range(1, n)] + [wall_now])
        self._wall_last = wall_now
        self._series("step/wall").extend(wall)
        self.emit(StepBatch(self.run_id, steps, loss, lr, gn, self.epoch, self.steps_per_s, wall))
        if not math.isfinite(sum(losses)):  # a NaN or ±Inf among them (or huge finite losses)
            j = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
            if j is not None:
                self._diverge(losses[j], int(steps[j]), float(lr[j]))
                return False
        self._update_good_weights(losses)
        return True

    def _live_state(self) -> list[torch.Tensor]:
        """The model's parameters, then its buffers (the tensors themselves, detached)."""
        return [p.detach() for p in self.model.parameters()] + list(self.model.buffers())

    def _update_good_weights(self, window_loss: Sequence[float]) -> None:
        """Keep the last state (parameters and buffers) known to be good, for recovery after
        a divergence.

        The state at the end of a window is judged by the losses of the *next* window (a
        loss measures the weights before its step's update), so a snapshot is promoted one
        window later, and only when that window's losses are finite and not exploding
        (below max(10·L0, L0 + 10), L0 the first window's median loss) and every value of
        the snapshot is finite (batch norm's running statistics can overflow while the
        training losses, which use batch statistics, stay finite)."""
        if self._loss_ref is None:
            self._loss_ref = float(np.median(window_loss))
        limit = max(10 * self._loss_ref, self._loss_ref + 10)
        ok = max(window_loss) <= limit
        if self._snap_owner is not self.params:  # first call, or the parameters were replaced
            self._snap_owner = self.params
            self._snap = self._live_state()
            self._n_good_params = len(list(self.model.parameters()))
            if [t.shape for t in self._snap] != [t.shape for t in self._pending.tensors]:  # a new model
                self._good = StateCopy(self._snap)
                self._pending = StateCopy(self._snap)
                self._pending_finite = self._pending.all_finite()
                self._pending_ok = ok
                return
        with torch.no_grad():
            if ok and self._pending_ok and bool(self._pending_finite):
                # The pending snapshot becomes the good one: swap, no copy.
                self._good, self._pending = self._pending, self._good
            self._pending.copy_from(self._snap)
            # Read at the next flush, when the device has long finished it.
            self._pending_finite = self._pending.all_finite()
        self._pending_ok = ok

    def _diverge(self, value: float, step: int, lr: float) -> None:
        """Stop in the 'diverged' state; keep the last good weights and all data so far."""
        self.state = RunState.DIVERGED
        cause = divergence_cause(self.config, self.batch_size, lr)
        self.message = DIVERGED_MESSAGE.format(value=value, step=step, cause=cause)
        self.restore_good_state()
        self.emit(Notice(self.run_id, self.message, "error"))
        self._finish_hooks()

    def _finish_hooks(self) -> None:
        for h in self.hooks:
            h.on_finish(self)

    def stop(self) -> bool:
        """End the run as 'stopped' (the user's stop): report the buffered steps, then the
        hooks' on_finish. False (nothing done) when the run is already over."""
        if self.finished:
            return False
        self.flush()
        self.state = RunState.STOPPED
        self._finish_hooks()
        return True

    # -- evaluation ----------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor, chunk: int | None = None) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of (x, y) in eval mode, in forward passes of at
        most `chunk` samples (the device's `eval_chunk` when None).

        The eval/train switch is skipped for a model that computes the same in both modes
        (it walks every module twice). On the CPU the sums are read as they come (no device
        to wait for); elsewhere they come back to the host in one copy."""
        chunk = chunk or self.eval_chunk
        model = self.model
        if self._modes_of is not model:
            self._modes_of, self._mode_dependent = model, mode_dependent(model)
        was_training = model.training
        switch = was_training and self._mode_dependent
        if switch:
            model.eval()
        n = max(1, x.shape[0])
        try:
            if self._host_scalars:
                loss_sum, hits = 0.0, 0
                for s in range(0, x.shape[0], chunk):
                    loss, correct = loss_and_correct(model(x[s : s + chunk]), y[s : s + chunk])  # compiled
                    loss_sum += loss
                    hits += correct
                return loss_sum / n, hits / n
            parts = []  # per chunk: summed loss and correct count, read back in one copy
            for s in range(0, x.shape[0], chunk):
                out, target = model(x[s : s + chunk]), y[s : s + chunk]
                parts += [
                    nn.functional.cross_entropy(out, target, reduction="sum").double(),
                    (out.argmax(1) == target).sum().double(),
                ]
            if not parts:
                return 0.0, 0.0
            loss_sum, hits = torch.stack(parts).view(-1, 2).sum(0).tolist()
            return loss_sum / n, hits / n
        finally:
            if switch:
                model.train(was_training)

    def _evaluate_epoch(self) -> tuple[float, float, float, float]:
        """The eval-mode loss and accuracy on the fixed training subset, then on the
        validation set."""
        return (
            *self.evaluate(self._x_train_eval, self._y_train_eval),
            *self.evaluate(self.data.x_val, self.data.y_val),
        )

    def _end_epoch(self) -> bool:
        if not self.flush():
            return False
        self.epoch += 1
        seen = max(1, self._epoch_seen)
        # train_loss/train_acc: running averages over the epoch's minibatches (train mode:
        # dropout on, batch statistics, weights changing during the epoch); the *_eval ones:
        # the model at the epoch's end in eval mode on a fixed training subset, comparable
        # with the validation loss.
        train_loss = self._epoch_loss_sum / seen
        train_acc = self._epoch_correct / seen
        self._epoch_loss_sum, self._epoch_correct, self._epoch_seen = 0.0, 0, 0
        train_loss_eval, train_acc_eval, val_loss, val_acc = self._evaluate_epoch()
        metrics = {
            "train_loss": train_loss,
            "val_loss": val_loss,
            "train_acc": train_acc,
            "val_acc": val_acc,
            "train_loss_eval": train_loss_eval,
            "train_acc_eval": train_acc_eval,
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "step": float(self.step),
        }
        for k, v in metrics.items():
            self._series(f"epoch/{k}").append(v)
        self.schedule.after_epoch(val_loss)
        # Hooks read the metrics; they add their own through record_epoch.
        self._epoch_metrics, view = metrics, MappingProxyType(metrics)
        try:
            for h in self.hooks:
                h.on_epoch_end(self, view)
        finally:
            self._epoch_metrics = None
        self.emit(EpochEnd(self.run_id, self.epoch, self.step, metrics))
        if not math.isfinite(val_loss):
            self._diverge(val_loss, self.step, metrics["lr"])
            return False
        if self.epoch >= self.config.train.epochs or self._stop_message:
            self.state = RunState.FINISHED
            self.message = self._stop_message or self.message
            if self._stop_message:
                self.emit(Notice(self.run_id, self._stop_message))
            self._finish_hooks()
            return False
        return True

    @torch.no_grad()
    def restore_good_state(self) -> None:
        """Put the last good parameters and buffers back into the model."""
        torch._foreach_copy_(self._live_state(), self._good.tensors)

    def good_state(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The last good state: (parameters, buffers), in the model's order (not copies)."""
        n = self._n_good_params
        good = self._good.tensors
        return good[:n], good[n:]

    def use_optim_config(self, running: OptimConfig | None = None, fresh_state: bool = True) -> list[str]:
        """Give the optimizer the settings of config.optim where they differ from `running`,
        the settings it runs with (default: those it was built with or edited to since),
        and with `fresh_state` an empty state (no moments). A different optimizer is built
        anew (with the schedule, which keeps its step count). Returns the names of the
        settings that changed."""
        want, have = self.config.optim, running if running is not None else self._optim_cfg
        changed = [k for k in type(want).model_fields if getattr(want, k) != getattr(have, k)]
        if want.name != have.name:
            self.optimizer = build_optimizer(self.model.parameters(), want)
            step_count = self.schedule.step_count
            self.schedule = build_schedule(self.optimizer, self.config, self.steps_per_epoch)
            self.schedule.step_count = step_count
        else:
            if fresh_state:
                self.optimizer.state.clear()
            if changed:
                defaults = build_optimizer([nn.Parameter(torch.zeros(1))], want).defaults
                for group in self.optimizer.param_groups:
                    group.update(defaults)
                    if "initial_lr" in group:
                        group["initial_lr"] = want.lr
                if want.lr != have.lr:
                    self.schedule.rebase(want.lr)
        self._optim_cfg = want
        return changed

    @torch.no_grad()
    def reset_to_good_state(self) -> None:
        """Continue from the last good parameters and buffers: put them into the model and
        make them the state pending judgement too. The epoch's running sums start over
        (they hold the diverged losses)."""
        self.restore_good_state()
        self._epoch_loss_sum, self._epoch_correct, self._epoch_seen = 0.0, 0, 0
        self._pending.copy_from(self._good.tensors)
        self._pending_finite = True
        self._pending_ok = True

    def recover(self, config: ExperimentConfig | None = None) -> bool:
        """After a divergence: continue from the last good parameters and buffers (already
        restored) with a fresh optimizer state (its moments may hold Inf/NaN) and the
        optimizer settings of the trainer's config (live edits included), or of `config`'s
        optimizer section when given. True if there was a divergence to recover from."""
        if self.state != RunState.DIVERGED:
            return False
        if config is not None:
            self.config = self.config.model_copy(update={"optim": config.optim})
        self._buf = []
        self.use_optim_config()
        self.reset_to_good_state()
        self.state = RunState.PAUSED
        self.message = ""
        return True

    def request_stop(self, message: str) -> None:
        """End the run as 'finished' after the current epoch (used by early stopping)."""
        self._stop_message = message

    def run(self, max_steps: int | None = None) -> str:
        """Train to the end (or max_steps more steps) on the calling thread; returns the state."""
        self.state = RunState.RUNNING
        n = 0
        while self.train_step():
            n += 1
            if max_steps is not None and n >= max_steps:
                self.flush()
                self.state = RunState.PAUSED
                break
        return self.state

    # -- live edits ----------------------------------------------------------------------
    def apply_live(self, key: str, value: float) -> bool:
        """Apply an lr/momentum/weight-decay edit to the running optimizer."""
        if key not in LIVE_KEYS:
            return False
        ok = apply_live_edit(self.optimizer, key, value, self.schedule)
        if ok:
            self.config = self.config.with_updates({key: value})
            self._optim_cfg = self._optim_cfg.model_copy(update={key.split(".")[-1]: value})
        return ok

    # -- results -------------------------------------------------------------------------
    def final_metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for k in ("train_loss", "val_loss", "train_acc", "val_acc", "train_loss_eval", "train_acc_eval"):
            s = self.series.get(f"epoch/{k}")
            out[k] = float(s.array()[-1]) if s is not None and len(s) else float("nan")
        out["epochs"] = float(self.epoch)
        x_test, y_test = self.data.x_test, self.data.y_test
        assert x_test is not None and y_test is not None  # an empty split since DataBundle.__post_init__
        if self.state == RunState.FINISHED and x_test.shape[0]:
            # The held-out test set: measured once the run is over, never during training.
            out["test_loss"], out["test_acc"] = self.evaluate(x_test, y_test)
        out["steps"] = float(self.step)
        return out

    # -- state ---------------------------------------------------------------------------
    def _hook_keys(self) -> list[tuple[str, TrainerHook]]:
        """Each hook with the key its state is saved under: its name (name-2, ... for repeats)."""
        seen: dict[str, int] = {}
        out = []
        for h in self.hooks:
            seen[h.name] = seen.get(h.name, 0) + 1
            out.append((h.name if seen[h.name] == 1 else f"{h.name}-{seen[h.name]}", h))
        return out

    @torch.no_grad()
    def state_dict(self) -> dict[str, Any]:
        """Everything a fresh Trainer of the same config needs to continue this run exactly:
        weights and buffers, optimizer, schedule, batch order, the random generators (batch,
        augmentation, dropout, torch's global one), the epoch's running sums, the last good
        weights, the series and every hook's state (by hook name). A snapshot (copies):
        later steps do not change it. Reports the buffered steps first (flush)."""
        self.flush()
        opt = self.optimizer.state_dict()
        aug = self.augment
        return {
            "step": int(self.step),
            "epoch": int(self.epoch),
            "pos": int(self._pos),
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": {
                "class": type(self.optimizer).__name__,
                "state": {
                    int(i): {k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in st.items()}
                    for i, st in opt["state"].items()
                },
                "param_groups": copy.deepcopy(opt["param_groups"]),
            },
            "schedule": copy.deepcopy(self.schedule.state_dict()),
            "perm": self._perm.clone() if self._perm is not None else None,
            "rng": {
                "batch": self.batch_generator.get_state(),
                "global": torch.get_rng_state(),
                "augment": aug.generator.get_state() if aug is not None and hasattr(aug, "generator") else None,
                "dropout": dropout_rng_states(self.model),
            },
            "epoch_sums": {
                "loss": float(self._epoch_loss_sum),
                "correct": int(self._epoch_correct),
                "seen": int(self._epoch_seen),
            },
            "good_params": [p.clone() for p in self.good_state()[0]],
            "good_buffers": [b.clone() for b in self.good_state()[1]],
            "loss_ref": self._loss_ref,
            "pending_ok": bool(self._pending_ok),
            "series": {k: s.array().copy() for k, s in self.series.items()},
            "hooks": {key: h.state_dict() for key, h in self._hook_keys()},
        }

    def _saved_good(self, saved: Sequence[Any] | None, live: list[torch.Tensor]) -> list[torch.Tensor]:
        """Saved last good tensors on this device, or `live` where they are missing (older
        checkpoints: the saved state was good, it comes from a flushed, finite run) or do
        not fit."""
        if saved is not None and [tuple(g.shape) for g in saved] == [tuple(t.shape) for t in live]:
            return [torch.as_tensor(g).to(self.device) for g in saved]
        return live

    def _check_optimizer_state(self) -> None:
        """A loaded optimizer state must let the optimizer step: every tensor it holds for a
        parameter has that parameter's shape (or is a scalar), and a step of a copy of the
        optimizer (on copies of the parameters, zero gradients) goes through. torch.optim
        would otherwise fail at the next training step, deep inside, with a bare KeyError
        or RuntimeError (a moment missing from a damaged file, say)."""
        index = {id(p): i for i, p in enumerate(self.model.parameters())}
        for p, st in self.optimizer.state.items():
            for k, v in st.items():
                if isinstance(v, torch.Tensor) and v.ndim and tuple(v.shape) != tuple(p.shape):
                    i = index.get(id(p), "?")
                    raise ValueError(
                        f"the optimizer state '{k}' of parameter {i} has shape {tuple(v.shape)}, "
                        f"the parameter {tuple(p.shape)} (member optim/{i}/{k})"
                    )
        twin = copy.deepcopy(self.optimizer)
        for group in twin.param_groups:
            for p in group["params"]:
                p.grad = torch.zeros_like(p)
        try:
            twin.step()
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as e:
            text = " ".join(str(e).split())[:120]
            raise ValueError(
                f"the optimizer state does not work with {type(self.optimizer).__name__} "
                f"({type(e).__name__}: {text}): an optim/ member is missing or malformed"
            ) from None

    def _finite_or_fresh(self, live: list[torch.Tensor], fresh: list[torch.Tensor]) -> list[torch.Tensor]:
        """For a checkpoint without saved good buffers (written before they were kept): each
        live buffer, or its freshly built value where the live one holds Inf/NaN (batch-norm
        statistics of a run that diverged). The names of the replaced buffers are kept in
        `fresh_buffer_names` so that the caller can say so."""
        names = [n for n, _ in self.model.named_buffers()]
        out = []
        for name, b, f in zip(names, live, fresh):
            if b.is_floating_point() and not bool(torch.isfinite(b).all()):
                self.fresh_buffer_names.append(name)
                out.append(f.to(b.device))
            else:
                out.append(b)
        return out

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any], restore_global_rng: bool = True) -> None:
        """Put this (fresh, not yet stepped) Trainer in the state `state_dict` returned; the
        config may differ in train.epochs. Missing entries keep their fresh values (older
        checkpoints). Raises ValueError naming what does not fit. With `restore_global_rng`
        torch's global random state is set too (a caller that keeps a run's random state
        apart, like a comparison, passes False and sets it around the steps itself)."""
        own = self.model.state_dict()
        fresh_buffers = [b.clone() for b in self.model.buffers()]
        saved = state["model"]
        if set(saved) != set(own):
            odd = sorted(set(own) - set(saved)) or sorted(set(saved) - set(own))
            raise ValueError(
                "the saved weights do not match the model built from the config "
                f"({len(saved)} tensors saved, {len(own)} expected; "
                f"'{odd[0]}' {'is missing' if odd[0] in own else 'is not in the model'})"
            )
        for k, v in saved.items():
            if tuple(v.shape) != tuple(own[k].shape):
                raise ValueError(f"weight '{k}' has shape {tuple(v.shape)}, the model expects {tuple(own[k].shape)}")
        opt = state.get("optimizer") or {}
        if opt.get("class") != type(self.optimizer).__name__:
            raise ValueError(
                f"the optimizer state is for {opt.get('class')}, the config builds {type(self.optimizer).__name__}"
            )
        dev = self.device
        self.model.load_state_dict({k: torch.as_tensor(v).to(dev) for k, v in saved.items()})
        if opt.get("param_groups") is not None:
            # CPU tensors are fine: load_state_dict moves them to the parameters' device.
            st = {
                int(i): {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in s.items()}
                for i, s in (opt.get("state") or {}).items()
            }
            try:
                self.optimizer.load_state_dict({"state": st, "param_groups": opt["param_groups"]})
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"the optimizer state does not fit: {e}") from None
            self._check_optimizer_state()
        sched = state.get("schedule")
        self.step, self.epoch, self._pos = int(state["step"]), int(state["epoch"]), int(state["pos"])
        try:
            if sched is not None:
                self.schedule.load_state_dict(sched)
            self.schedule.step_count = int((sched or {}).get("step_count", self.step))
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"the schedule state is malformed ({type(e).__name__}: {e})") from None
        perm = state.get("perm")
        if perm is not None:
            self._perm = torch.as_tensor(perm).to(dev)
        rng = state.get("rng") or {}
        if rng.get("batch") is not None:
            self.batch_generator.set_state(torch.as_tensor(rng["batch"], dtype=torch.uint8))
        if self.augment is not None and hasattr(self.augment, "generator") and rng.get("augment") is not None:
            self.augment.generator.set_state(torch.as_tensor(rng["augment"], dtype=torch.uint8))
        drop = rng.get("dropout") or []
        if drop:
            set_dropout_rng_states(
                self.model, [torch.as_tensor(d, dtype=torch.uint8) if d is not None else None for d in drop]
            )
        if restore_global_rng and rng.get("global") is not None:
            torch.set_rng_state(torch.as_tensor(rng["global"], dtype=torch.uint8))
        sums = state.get("epoch_sums") or {}
        self._epoch_loss_sum = float(sums.get("loss", 0.0))
        self._epoch_correct = int(sums.get("correct", 0))
        self._epoch_seen = int(sums.get("seen", 0))
        live = self._live_state()
        params, buffers = live[: self._n_good_params], live[self._n_good_params :]
        good_buffers = self._saved_good(state.get("good_buffers"), buffers)
        if good_buffers is buffers:
            good_buffers = self._finite_or_fresh(buffers, fresh_buffers)
        good = self._saved_good(state.get("good_params"), params) + good_buffers
        self._good.copy_from(good)
        # The state at a state_dict is that of the last flushed window: pending judgement.
        self._pending.copy_from(live)
        self._pending_finite = self._pending.all_finite()
        self._pending_ok = bool(state.get("pending_ok", True))
        ref = state.get("loss_ref")
        self._loss_ref = float(ref) if ref is not None else None
        series = state.get("series")
        if series is not None:
            self.series = {}
            for k, v in series.items():
                self._series(k).extend(v)
        hooks = state.get("hooks") or {}
        self._setup_hooks()
        for key, h in self._hook_keys():
            if key in hooks:
                try:
                    h.load_state_dict(hooks[key])
                except (AttributeError, IndexError, KeyError, TypeError, ValueError, RuntimeError) as e:
                    text = " ".join(str(e).split())[:120]
                    raise ValueError(f"the state of hook '{key}' is malformed ({type(e).__name__}: {text})") from None
        self._resumed = True
