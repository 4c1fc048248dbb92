"""L-BFGS with an optional strong Wolfe line search, as `torch.optim.LBFGS`.

Unlike the other optimizers, L-BFGS decides on the host at every iteration (curvature checks,
step lengths, stopping tests), so it reads the loss and a few reductions of the gradient back
from the device; it therefore cannot be captured into a CUDA graph and refuses to step inside
`graph_step`. Its vectors (the flat gradient, the search direction and the curvature history)
stay on the parameters' device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backprop.autograd import enable_grad, no_grad
from backprop.graph import EAGER, capture_phase
from backprop.ops import concatenate
from backprop.optim.optimizer import Optimizer, ParamsT, check_non_negative, zeros_state
from backprop.tensor import Tensor

LINE_SEARCHES = (None, "strong_wolfe")


class LBFGS(Optimizer):
    """Limited-memory BFGS: steps along the gradient multiplied by an inverse-Hessian
    estimate built from the last `history_size` curvature pairs; `step(closure)` runs up to
    `max_iter` iterations with fixed steps of `lr`, or with a strong Wolfe line search.
    All parameters form one group."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ):
        if max_eval is None and isinstance(max_iter, int):
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds the one parameter group; a second is refused, as in PyTorch."""
        if self.param_groups:
            raise ValueError(
                "LBFGS: does not support per-parameter options (parameter groups); "
                "pass all parameters in one group"
            )
        super().add_param_group(param_group)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_non_negative("LBFGS", group, "lr", "tolerance_grad", "tolerance_change")
        for key in ("max_iter", "max_eval", "history_size"):
            value = group[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LBFGS: {key} must be a positive integer, got {value!r}")
        if group["line_search_fn"] not in LINE_SEARCHES:
            raise ValueError(
                "LBFGS: line_search_fn must be None or 'strong_wolfe', "
                f"got {group['line_search_fn']!r}"
            )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Runs up to `max_iter` L-BFGS iterations; `closure` clears the gradients, re-computes
        the loss, calls backward and returns the loss, and is called once per evaluation.
        Returns the loss of the first evaluation."""
        if not callable(closure):
            raise TypeError(
                "LBFGS.step: needs a closure that clears the gradients, re-computes the loss, "
                f"calls backward and returns the loss, got {type(closure).__name__}"
            )
        if capture_phase() != EAGER:
            raise RuntimeError(
                "LBFGS.step: L-BFGS reads the loss and gradient norms on the host at every "
                "iteration, so it cannot be captured into a CUDA graph; step it outside "
                "graph_step"
            )
        with no_grad():
            return self._iterate(closure)

    # -- the flat view of all parameters --------------------------------------------------------

    def _evaluate(self, closure: Callable[[], Any]) -> Any:
        with enable_grad():
            return closure()

    def _flat_grad(self) -> Tensor:
        """Every parameter's gradient (zeros where it has none) as one new vector."""
        views = [(zeros_state(p) if p.grad is None else p.grad).reshape(-1) for p in self._params]
        return concatenate(views)

    def _add_to_params(self, step_size: float, direction: Tensor) -> None:
        """Adds `step_size * direction` (a flat vector) to the parameters, in place."""
        offset = 0
        for param in self._params:
            piece = direction[offset : offset + param.numel()].reshape(param.shape)
            param.add_(piece, alpha=step_size)
            offset += param.numel()

    def _directional_evaluate(
        self, closure: Callable[[], Any], start: list[Tensor], t: float, direction: Tensor
    ) -> tuple[float, Tensor]:
        """The loss and flat gradient at `start + t * direction`; the parameters are put back
        to `start` afterwards."""
        self._add_to_params(t, direction)
        loss = float(self._evaluate(closure))
        flat_grad = self._flat_grad()
        for param, value in zip(self._params, start):
            param.copy_(value)
        return loss, flat_grad

    # -- the iterations ------------------------------------------------------------------------

    def _iterate(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        # The state is global; it is kept under the first parameter, as PyTorch does.
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if _max_abs(flat_grad) <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:
                    # new lists, never changed in place: a state_dict may share the old ones
                    old_dirs = [*old_dirs, y][-history_size:]
                    old_stps = [*old_stps, s][-history_size:]
                    ro = [*ro, 1.0 / ys][-history_size:]
                    H_diag = ys / _dot(y, y)
                d = _two_loop_direction(flat_grad, old_dirs, old_stps, ro, H_diag)

            prev_flat_grad = flat_grad
            prev_loss = loss

            # the first step is scaled down to at most lr along a unit-l1-norm gradient
            first = state["n_iter"] == 1
            t = min(1.0, 1.0 / flat_grad.abs().sum().item()) * lr if first else lr
            gtd = _dot(flat_grad, d)
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                start = [param.clone() for param in self._params]

                def evaluate_along(t: float, d: Tensor, start: list[Tensor] = start):
                    return self._directional_evaluate(closure, start, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    evaluate_along,
                    t,
                    d,
                    loss,
                    flat_grad,
                    gtd,
                    max_ls=max_eval - current_evals,
                )
                self._add_to_params(t, d)
                opt_cond = _max_abs(flat_grad) <= tolerance_grad
            else:
                self._add_to_params(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    # no re-evaluation after the last iteration: the next step makes one
                    loss = float(self._evaluate(closure))
                    flat_grad = self._flat_grad()
                    opt_cond = _max_abs(flat_grad) <= tolerance_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if _max_abs(d * t) <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state.update(
            d=d,
            t=t,
            old_dirs=old_dirs,
            old_stps=old_stps,
            ro=ro,
            H_diag=H_diag,
            prev_flat_grad=prev_flat_grad,
            prev_loss=prev_loss,
        )
        return orig_loss


def _dot(x: Tensor, y: Tensor) -> float:
    return x.dot(y).item()


def _max_abs(x: Tensor) -> float:
    return x.abs().max().item()


def _two_loop_direction(
    flat_grad: Tensor,
    old_dirs: list[Tensor],
    old_stps: list[Tensor],
    ro: list[float],
    H_diag: float,
) -> Tensor:
    """The L-BFGS two-loop recursion: minus the inverse-Hessian estimate times the gradient."""
    q = -flat_grad
    al = [0.0] * len(old_dirs)
    for i in reversed(range(len(old_dirs))):
        al[i] = _dot(old_stps[i], q) * ro[i]
        q.add_(old_dirs[i], alpha=-al[i])
    r = q * H_diag
    for i in range(len(old_dirs)):
        be_i = _dot(old_dirs[i], r) * ro[i]
        r.add_(old_stps[i], alpha=al[i] - be_i)
    return r


def _cubic_interpolate(
    x1: float,
    f1: float,
    g1: float,
    x2: float,
    f2: float,
    g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """The minimiser of the cubic through two points with their values and slopes, clipped to
    `bounds` (default: between the points); the bounds' midpoint where the cubic has none, or
    is flat (a loss linear along the search direction)."""
    xmin_bound, xmax_bound = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    d2 = max(d2_square, 0.0) ** 0.5
    denominator = g2 - g1 + 2 * d2 if x1 <= x2 else g1 - g2 + 2 * d2
    if d2_square < 0 or denominator == 0:
        return (xmin_bound + xmax_bound) / 2.0
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / denominator)
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / denominator)
    return min(max(min_pos, xmin_bound), xmax_bound)


def _strong_wolfe(
    evaluate_along: Callable[[float, Tensor], tuple[float, Tensor]],
    t: float,
    d: Tensor,
    f: float,
    g: Tensor,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, Tensor, float, int]:
    """A step length along `d` meeting the strong Wolfe conditions, found by bracketing and
    cubic zooming (minFunc's, as PyTorch ports it); returns the loss, flat gradient and step
    there, and the number of evaluations made."""
    d_norm = _max_abs(d)
    f_new, g_new = evaluate_along(t, d)
    ls_func_evals = 1
    gtd_new = _dot(g_new, d)

    # bracket an interval containing a point satisfying the Wolfe criteria
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        t_prev, t = (
            t,
            _cubic_interpolate(
                t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step)
            ),
        )
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = evaluate_along(t, d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1

    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # zoom: refine the bracket until a point satisfies the criteria
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # a trial too close to an end of the bracket moves to 10% of its length from that end
        # when the last trial made insufficient progress too, or lies on or outside the end
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = evaluate_along(t, d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # Armijo condition not satisfied or not lower than the lowest point
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the old high end becomes the new low end
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals
