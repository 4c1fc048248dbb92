"""Learning-rate schedulers with PyTorch's names: call `step()` after `optimizer.step()`.

Each scheduler computes every group's learning rate in closed form from the group's
`initial_lr` and the step count `last_epoch` (PyTorch's `_get_closed_form_lr`), so the curve is
the same as PyTorch's and a restored scheduler resumes exactly where it stopped. The exceptions
keep PyTorch's state instead: `CosineAnnealingWarmRestarts` (its position in the current period,
which `step(epoch)` may move by a fraction of an epoch) and `ReduceLROnPlateau` (the best metric
so far and its counters of bad and cooldown steps).

Schedulers change only the host-side `group["lr"]`; a capturable optimizer copies it to the
device before each step (or each replay of a captured one), so it follows every scheduler here
stepped between `graph_step` calls. Stepping one inside a step being captured is refused: the
replays would not run it.
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from backprop.graph import CAPTURE, capture_phase
from backprop.optim.optimizer import Optimizer
from backprop.tensor import Tensor


class LRScheduler:
    """Base class: sets each group's "lr" to `get_lr()` at construction and on every `step()`."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        self.optimizer = optimizer
        for index, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{name}: param_groups[{index}] has no 'initial_lr' to resume from "
                    f"last_epoch={last_epoch}; load the optimizer's state_dict first"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list[float]:
        """The learning rate of every group at step `last_epoch`."""
        raise NotImplementedError

    def step(self) -> None:
        """Advances one step (one epoch or one batch, as the schedule is meant) and sets the
        optimizer's learning rates."""
        _check_not_capturing(self)
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def _set_lrs(self, lrs: list[float]) -> None:
        """Sets each group's "lr" to its entry of `lrs` and remembers them for `get_last_lr`."""
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the latest `step()`, one per parameter group."""
        return self._last_lr

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiplies the learning rate by `gamma` every `step_size` steps."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ):
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = self.gamma ** (self.last_epoch // self.step_size)
        return [base_lr * factor for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiplies the learning rate by `gamma` at each step listed in `milestones`."""

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Sequence[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ):
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = self.gamma ** bisect.bisect_right(self.milestones, self.last_epoch)
        return [base_lr * factor for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiplies the learning rate by `gamma` every step."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Follows half a cosine from the initial learning rate down to `eta_min` over `T_max`
    steps (and back up over the next `T_max`, as PyTorch's does)."""

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ):
        if not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive integer, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class LambdaLR(LRScheduler):
    """Sets the learning rate to the initial one times `lr_lambda(step)` (one function, or one
    per parameter group)."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ):
        groups = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * groups
        if len(lambdas) != groups:
            raise ValueError(
                f"LambdaLR: expected {groups} lr_lambda functions (one per group), "
                f"got {len(lambdas)}"
            )
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        """The schedule's position; the functions are code, not state, and are not saved."""
        return {key: value for key, value in super().state_dict().items() if key != "lr_lambdas"}

    def get_lr(self) -> list[float]:
        return [
            base_lr * lr_lambda(self.last_epoch)
            for base_lr, lr_lambda in zip(self.base_lrs, self.lr_lambdas)
        ]


class LinearLR(LRScheduler):
    """Linear warm-up (or cool-down): scales the initial learning rate by a factor that moves
    linearly from `start_factor` to `end_factor` over `total_iters` steps, then stays."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(
                f"LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1], "
                f"got {start_factor} and {end_factor}"
            )
        if not isinstance(total_iters, int) or total_iters < 1:
            raise ValueError(f"LinearLR: total_iters must be a positive integer, got {total_iters}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        progress = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith and Topin), stepped once per batch: the learning rate rises
    from `max_lr / div_factor` to `max_lr` over the first `pct_start` of `total_steps`, then
    anneals to `max_lr / div_factor / final_div_factor`; momentum (or Adam's beta1) moves the
    opposite way between `max_momentum` and `base_momentum`."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ):
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self.anneal_strategy = anneal_strategy
        self.phases = _one_cycle_phases(self.total_steps, pct_start, three_phase)
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group, peak in zip(groups, _per_group("OneCycleLR", "max_lr", max_lr, groups)):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"OneCycleLR: cycle_momentum needs an optimizer with momentum or betas, "
                    f"got {type(optimizer).__name__}"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            if last_epoch == -1:
                highs = _per_group("OneCycleLR", "max_momentum", max_momentum, groups)
                lows = _per_group("OneCycleLR", "base_momentum", base_momentum, groups)
                for group, high, low in zip(groups, highs, lows):
                    group["max_momentum"], group["base_momentum"] = high, low
                    self._set_momentum(group, high)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {self.last_epoch} times, but total_steps is "
                f"{self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for index, phase in enumerate(self.phases):
                end_step = phase["end_step"]
                if self.last_epoch <= end_step or index == len(self.phases) - 1:
                    pct = (self.last_epoch - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentum = self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                        self._set_momentum(group, momentum)
                    break
                start_step = end_step
        return lrs

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov and Hutter): half a cosine from the initial learning rate down to
    `eta_min` over `T_0` steps, then a restart at the initial learning rate; each period is
    `T_mult` times longer than the one before.

    `step(epoch)` jumps to `epoch`, which may be fractional: stepping once per batch with
    `epoch + batch / batches` follows the cosine within an epoch, as in PyTorch."""

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ):
        name = type(self).__name__
        if not isinstance(T_0, int) or T_0 < 1:
            raise ValueError(f"{name}: T_0 must be a positive integer, got {T_0!r}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"{name}: T_mult must be an integer >= 1, got {T_mult!r}")
        if not isinstance(eta_min, (int, float)):
            raise TypeError(f"{name}: eta_min must be a number, got {type(eta_min).__name__}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base_lr - self.eta_min) * cosine / 2 for base_lr in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advances one step (restarting at the end of a period), or jumps to `epoch`."""
        _check_not_capturing(self)
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        else:
            self._jump_to(epoch)
        self.last_epoch = math.floor(epoch)
        self._set_lrs(self.get_lr())

    def _jump_to(self, epoch: float) -> None:
        """Sets the current period `T_i` and the position `T_cur` in it for `epoch`."""
        if not isinstance(epoch, numbers.Real) or epoch < 0:
            raise ValueError(
                f"{type(self).__name__}.step: epoch must be a number >= 0, got {epoch!r}"
            )
        if epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            restarts = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult**restarts - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult**restarts


class SequentialLR(LRScheduler):
    """Runs `schedulers` one after another on the same optimizer: `schedulers[i]` takes over
    at step `milestones[i - 1]` and starts its own schedule from its step 0 there."""

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ):
        _check_sequence(optimizer, schedulers, milestones)
        self.optimizer = optimizer
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:
            scheduler.last_epoch -= 1  # undoes the step each one took when it was made
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first.step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        """Steps the scheduler whose turn it is, restarting it at its milestone."""
        _check_not_capturing(self)
        self.last_epoch += 1
        index = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler.last_epoch = -1
        scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """Its own position and, under "_schedulers", the state_dict of every scheduler."""
        state = {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("optimizer", "_schedulers")
        }
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for scheduler, saved in zip(self._schedulers, state_dict["_schedulers"]):
            scheduler.load_state_dict(saved)


def _check_sequence(
    optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int]
) -> None:
    """Raises unless `schedulers` are LR schedulers of `optimizer`, one more than `milestones`."""
    _check_optimizer("SequentialLR", optimizer)
    if len(schedulers) < 1:
        raise ValueError("SequentialLR: needs at least one scheduler, got none")
    for index, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(
                f"SequentialLR: schedulers[{index}] must be an LRScheduler, "
                f"got {type(scheduler).__name__}"
            )
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(
                f"SequentialLR: schedulers[{index}] is a ReduceLROnPlateau, whose step needs a "
                "metric; step it separately"
            )
        if scheduler.optimizer is not optimizer:
            raise ValueError(
                f"SequentialLR: schedulers[{index}] ({type(scheduler).__name__}) belongs to "
                "another optimizer; every scheduler must belong to the one given"
            )
    if len(milestones) != len(schedulers) - 1:
        raise ValueError(
            f"SequentialLR: expected {len(schedulers) - 1} milestones (one fewer than the "
            f"{len(schedulers)} schedulers), got {len(milestones)}"
        )


class ReduceLROnPlateau(LRScheduler):
    """Multiplies every group's learning rate by `factor` (not below that group's `min_lr`)
    when the metric given to `step` has not improved for more than `patience` steps, then
    ignores `cooldown` steps before counting again.

    The metric improves when it beats the best so far by more than `threshold`: relatively
    (`best * (1 - threshold)` for `mode="min"`, `best * (1 + threshold)` for "max") or, with
    `threshold_mode="abs"`, absolutely. A reduction smaller than `eps` is skipped."""

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ):
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        if factor >= 1.0:
            raise ValueError(f"{name}: factor must be < 1.0, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"{name}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
            )
        self.optimizer = optimizer
        self.factor = factor
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group(name, "min_lr", min_lr, optimizer.param_groups)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        """Whether bad steps are being ignored after a reduction."""
        return self.cooldown_counter > 0

    def step(self, metrics: float | Tensor) -> None:
        """Takes the metric of one epoch (such as the validation loss): a Python number or a
        0-d Tensor. A Tensor's value is read from its device, a synchronisation that is
        harmless once per epoch."""
        _check_not_capturing(self)
        current = _metric_value(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _is_better(self, current: float) -> bool:
        if self.threshold_mode == "rel":
            scale = 1.0 - self.threshold if self.mode == "min" else 1.0 + self.threshold
            bound = self.best * scale
        else:
            bound = self.best - self.threshold if self.mode == "min" else self.best + self.threshold
        return current < bound if self.mode == "min" else current > bound

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter groups but "
                    f"min_lrs has {len(self.min_lrs)} (a group was added after the scheduler "
                    "was made); set min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            new_lr = max(group["lr"] * self.factor, min_lr)
            if group["lr"] - new_lr > self.eps:
                group["lr"] = new_lr


def _metric_value(metrics: Any) -> float:
    """The metric given to `ReduceLROnPlateau.step` as a Python float."""
    if isinstance(metrics, Tensor):
        if metrics.numel() != 1:
            raise ValueError(
                "ReduceLROnPlateau.step: metrics must be a number or a 0-d Tensor, got a "
                f"Tensor of shape {metrics.shape}"
            )
        return float(metrics.item())
    if not isinstance(metrics, numbers.Real):
        raise TypeError(
            "ReduceLROnPlateau.step: metrics must be a number or a 0-d Tensor, "
            f"got {type(metrics).__name__}"
        )
    return float(metrics)


def _check_not_capturing(scheduler: LRScheduler) -> None:
    """A scheduler steps on the host, between steps: inside a step that `graph_step` captures,
    it would run once, at the capture, and never at the replays, freezing the schedule."""
    if capture_phase() == CAPTURE:
        raise RuntimeError(
            f"{type(scheduler).__name__}.step: stepped inside a step being captured into a CUDA "
            "graph, where Python code runs once and is not replayed, so the learning rate would "
            "stop changing; step the scheduler between graph_step calls"
        )


def _check_optimizer(name: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{name}: expected an Optimizer, got {type(optimizer).__name__}")


def _total_steps(total_steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int:
    if total_steps is not None:
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(
                f"OneCycleLR: total_steps must be a positive integer, got {total_steps}"
            )
        return total_steps
    if epochs is None or steps_per_epoch is None:
        raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"OneCycleLR: {name} must be a positive integer, got {value}")
    return epochs * steps_per_epoch


def _one_cycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[dict]:
    """Each phase anneals between two named group entries up to its (inclusive) end step."""
    warm_up_end = float(pct_start * total_steps) - 1
    warm_up = _phase(warm_up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum")
    if not three_phase:
        return [
            warm_up,
            _phase(total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
        ]
    return [
        warm_up,
        _phase(2 * warm_up_end, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
        _phase(total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
    ]


def _phase(end_step: float, start_lr: str, end_lr: str, start_m: str, end_m: str) -> dict:
    return {
        "end_step": end_step,
        "start_lr": start_lr,
        "end_lr": end_lr,
        "start_momentum": start_m,
        "end_momentum": end_m,
    }


def _per_group(
    scheduler: str, name: str, value: float | Sequence[float], groups: list[dict]
) -> list[float]:
    """`value` repeated for every group, or checked to have one entry per group."""
    if not isinstance(value, (list, tuple)):
        return [value] * len(groups)
    if len(value) != len(groups):
        raise ValueError(
            f"{scheduler}: expected {len(groups)} values of {name} (one per group), "
            f"got {len(value)}"
        )
    return list(value)
