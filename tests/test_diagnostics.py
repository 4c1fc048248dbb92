"""The gradient-health recorder logs every parameter's gradient and update norms each step,
flags exploding and vanishing gradients and dead ReLUs at the thresholds the user sets, stays
quiet on a healthy model, and plots its history."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from backprop.diagnostics import GradientFlag, GradientRecorder


def chain(depth: int, activation: type[nn.Module], weight_std: float) -> nn.Sequential:
    """`depth` Linear(8, 8) layers with `activation` between them and N(0, weight_std) weights."""
    bp.manual_seed(0)
    layers: list[nn.Module] = []
    for index in range(depth):
        layer = nn.Linear(8, 8)
        nn.init.normal_(layer.weight, std=weight_std)
        layers += [layer] if index == depth - 1 else [layer, activation()]
    return nn.Sequential(*layers)


def one_step(model: nn.Module, recorder: GradientRecorder, lr: float = 0.1) -> list[GradientFlag]:
    optimizer = optim.SGD(model.parameters(), lr=lr)
    bp.manual_seed(1)
    loss = (model(bp.randn(16, 8)) ** 2).mean()
    loss.backward()
    return recorder.step(optimizer)


def kinds(flags: list[GradientFlag]) -> set[tuple[str, str]]:
    return {(flag.name, flag.kind) for flag in flags}


def test_exploding_gradients_are_flagged():
    model = chain(5, nn.Identity, weight_std=3.0)
    recorder = GradientRecorder(model, exploding=100.0)
    flags = one_step(model, recorder, lr=1e-9)
    assert ("0.weight", "exploding") in kinds(flags)
    assert recorder.grad_norms["0.weight"][0] > 100.0
    assert "0.weight: gradient norm" in str(flags[0]) and "above 100 (exploding)" in str(flags[0])


def test_vanishing_gradients_are_flagged_in_the_early_layers_only():
    model = chain(5, nn.Tanh, weight_std=0.01)
    recorder = GradientRecorder(model, vanishing=1e-6)
    flags = one_step(model, recorder)
    assert ("0.weight", "vanishing") in kinds(flags)
    assert ("8.weight", "vanishing") not in kinds(flags)
    assert recorder.grad_norms["0.weight"][0] < 1e-6 < recorder.grad_norms["8.weight"][0]


def test_dead_relus_are_flagged_with_their_fraction():
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 1))
    bias = model[0].bias.numpy()
    bias[:4] = -100.0
    model[0].load_state_dict({"weight": model[0].weight.numpy(), "bias": bias})
    recorder = GradientRecorder(model, dead_fraction=0.5)
    flags = one_step(model, recorder)
    assert kinds(flags) == {("0.weight", "dead_units")}
    assert recorder.dead_fractions["0.weight"] == [pytest.approx(4 / 6)]
    assert "67% of its units got no gradient" in str(flags[0])
    assert GradientRecorder(model, dead_fraction=0.7).step(optim.SGD(model.parameters())) == []


def test_a_healthy_model_raises_no_flags_and_every_step_is_recorded():
    model = chain(3, nn.ReLU, weight_std=0.5)
    recorder = GradientRecorder(model)
    for _ in range(3):
        model.zero_grad()
        assert one_step(model, recorder) == []
    assert recorder.steps == 3 and recorder.flags == []
    assert set(recorder.grad_norms) == {name for name, _ in model.named_parameters()}
    assert all(len(history) == 3 for history in recorder.update_norms.values())
    assert set(recorder.dead_fractions) == {"0.weight", "2.weight", "4.weight"}


def test_update_norms_measure_the_step_the_optimizer_took():
    model = chain(2, nn.Tanh, weight_std=0.5)
    recorder = GradientRecorder(model)
    one_step(model, recorder, lr=0.1)
    for name in recorder.grad_norms:
        assert recorder.update_norms[name][0] == pytest.approx(0.1 * recorder.grad_norms[name][0])


def test_parameters_without_gradients_are_recorded_as_missing_not_flagged():
    model = chain(2, nn.Tanh, weight_std=0.5)
    model[0].weight.requires_grad_(False)
    recorder = GradientRecorder(model, vanishing=1e-3)
    assert one_step(model, recorder) == []
    assert math.isnan(recorder.grad_norms["0.weight"][0])
    assert recorder.update_norms["0.weight"] == [0.0]


def test_thresholds_are_checked():
    model = chain(1, nn.Tanh, weight_std=1.0)
    with pytest.raises(ValueError, match="need 0 <= vanishing < exploding, got vanishing=10"):
        GradientRecorder(model, vanishing=10, exploding=1)
    with pytest.raises(ValueError, match=r"dead_fraction must be in \[0, 1\], got 2"):
        GradientRecorder(model, dead_fraction=2)
    with pytest.raises(TypeError, match="GradientRecorder: expected a Module, got list"):
        GradientRecorder([])


def test_plot_draws_the_three_histories(tmp_path):
    pytest.importorskip("matplotlib")
    model = chain(2, nn.ReLU, weight_std=0.5)
    recorder = GradientRecorder(model)
    for _ in range(2):
        one_step(model, recorder)
    figure = recorder.plot(tmp_path / "history.png")
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["gradient norm", "update norm", "fraction of dead units"]
    assert len(figure.axes[0].get_lines()) == 4 + 2
    assert (tmp_path / "history.png").stat().st_size > 0
    np.testing.assert_array_equal(figure.axes[0].get_lines()[0].get_xdata(), [1, 2])


def test_plot_without_matplotlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    recorder = GradientRecorder(chain(1, nn.Tanh, weight_std=1.0))
    with pytest.raises(ImportError, match="pip install matplotlib"):
        recorder.plot()
