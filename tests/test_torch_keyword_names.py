"""PyTorch's keyword names for axes: every function and Tensor method that takes an axis also
takes it under PyTorch's name (`dim`, `keepdim`, `dims`, `start_dim`/`end_dim`, `dim0`/`dim1`),
so `x.sum(dim=1, keepdim=True)`, `F.softmax(logits, dim=-1)` and `bp.cat(ts, dim=1)` run as
in PyTorch.

A call under PyTorch's names gives exactly what the same call under ours gives (values, shape,
dtype and gradient); a few match PyTorch itself; one argument given under both names is a
TypeError naming the op and both names; positional calls are unchanged; and every public
function with an axis parameter is covered."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from helpers import assert_close, assert_matches_the_cpu, leaf, randn

import backprop as bp
import backprop.nn.functional as F
from backprop import functional, ops
from backprop.tensor import torch_names

torch = pytest.importorskip("torch")

SHAPE = (2, 3, 4)


def _gather_index() -> bp.Tensor:
    """Positions along axis 1 of a (2, 3, 4) tensor, for gather and scatter_add."""
    return bp.tensor(np.array([[[0, 2, 1, 0], [1, 1, 0, 2]], [[2, 0, 0, 1], [0, 2, 2, 1]]]))


def _positions() -> bp.Tensor:
    return bp.tensor(np.array([3, 0, 3]))


# (what it is, the call with PyTorch's keywords, the same call with ours)
SAME_CALLS = [
    ("Tensor.sum", lambda x: x.sum(dim=1, keepdim=True), lambda x: x.sum(axis=1, keepdims=True)),
    ("Tensor.sum over dims", lambda x: x.sum(dim=(0, 2)), lambda x: x.sum(axis=(0, 2))),
    ("Tensor.mean", lambda x: x.mean(dim=-1, keepdim=True), lambda x: x.mean(-1, keepdims=True)),
    ("Tensor.max", lambda x: x.max(dim=1), lambda x: x.max(axis=1)),
    ("Tensor.min", lambda x: x.min(dim=2, keepdim=True), lambda x: x.min(axis=2, keepdims=True)),
    ("Tensor.var", lambda x: x.var(dim=1, correction=0), lambda x: x.var(axis=1, correction=0)),
    ("Tensor.std", lambda x: x.std(dim=0, keepdim=True), lambda x: x.std(axis=0, keepdims=True)),
    ("Tensor.amax", lambda x: x.amax(dim=(1, 2)), lambda x: x.amax(axis=(1, 2))),
    ("Tensor.amin", lambda x: x.amin(dim=1, keepdim=True), lambda x: x.amin(1, keepdims=True)),
    ("Tensor.prod", lambda x: x.prod(dim=2), lambda x: x.prod(axis=2)),
    ("Tensor.norm", lambda x: x.norm(p=1, dim=2, keepdim=True), lambda x: x.norm(1, 2, True)),
    ("Tensor.logsumexp", lambda x: x.logsumexp(dim=1), lambda x: x.logsumexp(axis=1)),
    ("Tensor.argmax", lambda x: x.argmax(dim=1, keepdim=True), lambda x: x.argmax(1, True)),
    ("Tensor.argmin", lambda x: x.argmin(dim=2), lambda x: x.argmin(axis=2)),
    ("Tensor.any", lambda x: (x > 0).any(dim=1), lambda x: (x > 0).any(axis=1)),
    ("Tensor.all", lambda x: (x > 0).all(dim=0, keepdim=True), lambda x: (x > 0).all(0, True)),
    ("Tensor.softmax", lambda x: x.softmax(dim=1), lambda x: x.softmax(axis=1)),
    ("Tensor.log_softmax", lambda x: x.log_softmax(dim=0), lambda x: x.log_softmax(axis=0)),
    ("Tensor.flatten", lambda x: x.flatten(start_dim=1), lambda x: x.flatten(start_axis=1)),
    (
        "Tensor.flatten to end_dim",
        lambda x: x.flatten(start_dim=0, end_dim=1),
        lambda x: x.flatten(start_axis=0, end_axis=1),
    ),
    (
        "Tensor.transpose",
        lambda x: x.transpose(dim0=0, dim1=2),
        lambda x: x.transpose(axis0=0, axis1=2),
    ),
    ("Tensor.permute", lambda x: x.permute(dims=(2, 0, 1)), lambda x: x.permute(2, 0, 1)),
    ("Tensor.squeeze", lambda x: x[:, :1].squeeze(dim=1), lambda x: x[:, :1].squeeze(axis=1)),
    ("Tensor.unsqueeze", lambda x: x.unsqueeze(dim=0), lambda x: x.unsqueeze(axis=0)),
    (
        "Tensor.gather",
        lambda x: x.gather(dim=1, index=_gather_index()),
        lambda x: x.gather(axis=1, index=_gather_index()),
    ),
    (
        "Tensor.index_select",
        lambda x: x.index_select(dim=2, index=_positions()),
        lambda x: x.index_select(axis=2, index=_positions()),
    ),
    ("Tensor.flip", lambda x: x.flip(dims=(0, 2)), lambda x: x.flip(0, 2)),
    ("Tensor.roll", lambda x: x.roll(1, dims=0), lambda x: x.roll(1, axis=0)),
    (
        "Tensor.roll over dims",
        lambda x: x.roll(shifts=(1, 2), dims=(0, 2)),
        lambda x: x.roll(shifts=(1, 2), axis=(0, 2)),
    ),
    ("Tensor.split", lambda x: x.split(3, dim=2), lambda x: x.split(3, axis=2)),
    ("Tensor.chunk", lambda x: x.chunk(2, dim=1), lambda x: x.chunk(2, axis=1)),
    ("Tensor.cumsum", lambda x: x.cumsum(dim=1), lambda x: x.cumsum(axis=1)),
    ("Tensor.cumprod", lambda x: x.cumprod(dim=2), lambda x: x.cumprod(axis=2)),
    ("Tensor.logcumsumexp", lambda x: x.logcumsumexp(dim=0), lambda x: x.logcumsumexp(axis=0)),
    ("bp.cat", lambda x: bp.cat([x, 2 * x], dim=1), lambda x: bp.cat([x, 2 * x], axis=1)),
    (
        "bp.concatenate",
        lambda x: bp.concatenate([x, x], dim=-1),
        lambda x: bp.concatenate([x, x], axis=-1),
    ),
    ("bp.stack", lambda x: bp.stack([x, 2 * x], dim=2), lambda x: bp.stack([x, 2 * x], axis=2)),
    ("bp.split", lambda x: bp.split(x, [1, 3], dim=2), lambda x: bp.split(x, [1, 3], axis=2)),
    ("bp.chunk", lambda x: bp.chunk(x, 3, dim=1), lambda x: bp.chunk(x, 3, axis=1)),
    ("bp.flip", lambda x: bp.flip(x, dims=(1,)), lambda x: bp.flip(x, axes=(1,))),
    ("bp.roll", lambda x: bp.roll(x, -1, dims=2), lambda x: bp.roll(x, -1, axis=2)),
    ("bp.logsumexp", lambda x: bp.logsumexp(x, dim=2), lambda x: bp.logsumexp(x, axis=2)),
    ("bp.cumsum", lambda x: bp.cumsum(x, dim=0), lambda x: bp.cumsum(x, axis=0)),
    ("bp.cumprod", lambda x: bp.cumprod(x, dim=1), lambda x: bp.cumprod(x, axis=1)),
    (
        "bp.logcumsumexp",
        lambda x: bp.logcumsumexp(x, dim=2),
        lambda x: bp.logcumsumexp(x, axis=2),
    ),
    ("bp.any", lambda x: bp.any(x > 1, dim=2), lambda x: bp.any(x > 1, axis=2)),
    ("bp.all", lambda x: bp.all(x < 1, dim=1), lambda x: bp.all(x < 1, axis=1)),
    ("bp.argmax", lambda x: bp.argmax(x, dim=0), lambda x: bp.argmax(x, axis=0)),
    ("bp.argmin", lambda x: bp.argmin(x, dim=1, keepdim=True), lambda x: bp.argmin(x, 1, True)),
    ("bp.amax", lambda x: bp.amax(x, dim=0), lambda x: bp.amax(x, axis=0)),
    ("bp.amin", lambda x: bp.amin(x, dim=2), lambda x: bp.amin(x, axis=2)),
    ("bp.norm", lambda x: bp.norm(x, dim=(1, 2)), lambda x: bp.norm(x, axis=(1, 2))),
    ("bp.std", lambda x: bp.std(x, dim=2, correction=0), lambda x: bp.std(x, 2, correction=0)),
    ("bp.prod", lambda x: bp.prod(x, dim=1, keepdim=True), lambda x: bp.prod(x, 1, True)),
    (
        "bp.index_select",
        lambda x: bp.index_select(x, dim=1, index=bp.tensor([2, 0])),
        lambda x: bp.index_select(x, axis=1, index=bp.tensor([2, 0])),
    ),
    ("ops.var", lambda x: ops.var(x, dim=2, keepdim=True), lambda x: ops.var(x, 2, keepdims=True)),
    ("ops.reduce", lambda x: ops.reduce("sum", x, dim=1), lambda x: ops.reduce("sum", x, 1)),
    ("ops.flatten", lambda x: ops.flatten(x, end_dim=1), lambda x: ops.flatten(x, end_axis=1)),
    ("ops.squeeze", lambda x: ops.squeeze(x[:1], dim=0), lambda x: ops.squeeze(x[:1], 0)),
    ("ops.unsqueeze", lambda x: ops.unsqueeze(x, dim=-1), lambda x: ops.unsqueeze(x, -1)),
    ("ops.transpose", lambda x: ops.transpose(x, dim0=1, dim1=2), lambda x: x.transpose(1, 2)),
    ("ops.permute", lambda x: ops.permute(x, dims=(1, 0, 2)), lambda x: ops.permute(x, (1, 0, 2))),
    (
        "ops.gather",
        lambda x: ops.gather(x, dim=1, index=_gather_index()),
        lambda x: ops.gather(x, 1, _gather_index()),
    ),
    (
        "ops.scatter_add",
        lambda x: ops.scatter_add(x, dim=1, index=_gather_index(), src=x[:, :2] * 3),
        lambda x: ops.scatter_add(x, 1, _gather_index(), x[:, :2] * 3),
    ),
    ("ops.unbind", lambda x: ops.unbind(x, dim=2), lambda x: ops.unbind(x, axis=2)),
    ("ops.softmax", lambda x: ops.softmax(x, dim=0), lambda x: ops.softmax(x, 0)),
    ("F.softmax", lambda x: F.softmax(x, dim=-1), lambda x: F.softmax(x, axis=-1)),
    ("F.log_softmax", lambda x: F.log_softmax(x, dim=1), lambda x: F.log_softmax(x, 1)),
    (
        "functional.softmax",
        lambda x: functional.softmax(x, dim=2),
        lambda x: functional.softmax(x, axis=2),
    ),
]


def _outputs_and_gradient(call) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The outputs of `call` on a fixed float64 leaf, and the leaf's gradient for fixed random
    output gradients (None when no output is differentiable)."""
    x = leaf(randn(SHAPE, seed=0))
    result = call(x)
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    terms = [
        (out * bp.tensor(randn(out.shape, seed=10 + i))).sum()
        for i, out in enumerate(outputs)
        if out.requires_grad
    ]
    if terms:
        sum(terms).backward()
    return [out.numpy() for out in outputs], (None if x.grad is None else x.grad.numpy())


@pytest.mark.parametrize(
    "torch_call, our_call", [c[1:] for c in SAME_CALLS], ids=[c[0] for c in SAME_CALLS]
)
def test_pytorch_keyword_names_give_what_ours_give(torch_call, our_call):
    outputs, grad = _outputs_and_gradient(torch_call)
    expected_outputs, expected_grad = _outputs_and_gradient(our_call)
    assert len(outputs) == len(expected_outputs)
    for out, expected in zip(outputs, expected_outputs):
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out, expected)  # shape and every value
    if expected_grad is None:
        assert grad is None
    else:
        np.testing.assert_array_equal(grad, expected_grad)


# (what it is, our call, PyTorch's call: the same keywords on both sides)
TORCH_CALLS = [
    (
        "sum",
        lambda x: x.sum(dim=(0, 2), keepdim=True),
        lambda t: t.sum(dim=(0, 2), keepdim=True),
    ),
    ("max gives the values", lambda x: x.max(dim=1).values, lambda t: t.max(dim=1).values),
    ("std", lambda x: x.std(dim=1, keepdim=True), lambda t: t.std(dim=1, keepdim=True)),
    ("argmax", lambda x: x.argmax(dim=2, keepdim=True), lambda t: t.argmax(dim=2, keepdim=True)),
    ("any", lambda x: (x > 0).any(dim=1), lambda t: (t > 0).any(dim=1)),
    ("softmax", lambda x: F.softmax(x, dim=1), lambda t: torch.nn.functional.softmax(t, dim=1)),
    ("flatten", lambda x: x.flatten(start_dim=1), lambda t: t.flatten(start_dim=1)),
    ("transpose", lambda x: x.transpose(dim0=0, dim1=2), lambda t: t.transpose(dim0=0, dim1=2)),
    ("unsqueeze", lambda x: x.unsqueeze(dim=0), lambda t: t.unsqueeze(dim=0)),
    ("cat", lambda x: bp.cat([x, 2 * x], dim=1), lambda t: torch.cat([t, 2 * t], dim=1)),
    ("flip", lambda x: x.flip(dims=(0,)), lambda t: t.flip(dims=(0,))),
    ("roll", lambda x: x.roll(1, dims=0), lambda t: t.roll(1, dims=0)),
    ("cumsum", lambda x: x.cumsum(dim=2), lambda t: t.cumsum(dim=2)),
    ("split", lambda x: x.split(3, dim=2), lambda t: t.split(3, dim=2)),
]


@pytest.mark.parametrize(
    "ours, theirs", [c[1:] for c in TORCH_CALLS], ids=[c[0] for c in TORCH_CALLS]
)
def test_pytorch_keyword_names_match_pytorch_called_the_same_way(ours, theirs, dtype):
    array = randn(SHAPE, seed=1).astype(dtype)
    x = bp.tensor(array, requires_grad=True)
    t = torch.tensor(array.astype(np.float64), requires_grad=True)
    result, expected = ours(x), theirs(t)
    outputs = list(result) if isinstance(result, tuple) else [result]
    references = list(expected) if isinstance(expected, tuple) else [expected]
    assert len(outputs) == len(references)
    for out, reference in zip(outputs, references):
        out_dtype = dtype if out.dtype.kind == "f" else None
        assert_close(out.numpy(), reference.detach().numpy(), out_dtype)
    if not outputs[0].requires_grad:
        return
    weights = [randn(out.shape, seed=20 + i) for i, out in enumerate(outputs)]
    sum((o * bp.tensor(w.astype(dtype))).sum() for o, w in zip(outputs, weights)).backward()
    sum((r * torch.tensor(w)).sum() for r, w in zip(references, weights)).backward()
    assert_close(x.grad.numpy(), t.grad.numpy(), dtype)


# Our axis parameters and PyTorch's names for them; roll's axis is PyTorch's `dims`.
TORCH_NAME_OF = {
    "axis": "dim",
    "axes": "dims",
    "keepdims": "keepdim",
    "start_axis": "start_dim",
    "end_axis": "end_dim",
    "axis0": "dim0",
    "axis1": "dim1",
}
TORCH_NAME_EXCEPTIONS = {("roll", "axis"): "dims"}


def _public_axis_parameters() -> list[tuple[str, object, str, str]]:
    """(where, function, our parameter, PyTorch's name) for every public function of `bp`,
    `bp.ops`, `bp.functional` and `bp.nn.functional`, and every Tensor method, that has an
    axis parameter under our name only (one that also has PyTorch's name takes both itself)."""
    found = []
    namespaces = {"Tensor": bp.Tensor, "bp": bp, "ops": ops, "functional": functional, "F": F}
    for where, namespace in namespaces.items():
        for name, function in vars(namespace).items():
            if name.startswith("_") or not inspect.isfunction(function):
                continue
            parameters = inspect.signature(function).parameters
            for parameter in parameters:
                if parameter not in TORCH_NAME_OF:
                    continue
                torch_name = TORCH_NAME_EXCEPTIONS.get(
                    (function.__name__, parameter), TORCH_NAME_OF[parameter]
                )
                if torch_name not in parameters:
                    found.append((f"{where}.{name}", function, parameter, torch_name))
    return found


AXIS_PARAMETERS = _public_axis_parameters()


def test_the_survey_of_axis_parameters_finds_the_everyday_ones():
    surveyed = {(where, parameter) for where, _, parameter, _ in AXIS_PARAMETERS}
    for expected in [
        ("Tensor.sum", "keepdims"),
        ("Tensor.flip", "axes"),
        ("Tensor.transpose", "axis1"),
        ("bp.cat", "axis"),
        ("F.softmax", "axis"),
        ("ops.flatten", "end_axis"),
    ]:
        assert expected in surveyed


@pytest.mark.parametrize(
    "function, parameter, torch_name",
    [entry[1:] for entry in AXIS_PARAMETERS],
    ids=[f"{where}({parameter})" for where, _, parameter, _ in AXIS_PARAMETERS],
)
def test_every_axis_parameter_also_has_its_pytorch_name(function, parameter, torch_name):
    # Both spellings at once: only a function that knows PyTorch's name refuses the pair.
    message = rf"^{function.__name__}: got both {torch_name}= \(PyTorch's name\) and {parameter} "
    with pytest.raises(TypeError, match=message):
        function(**{torch_name: 0, parameter: 0})


def test_both_spellings_by_keyword_are_a_type_error_naming_the_op_and_both_names():
    x = bp.randn(2, 3)
    with pytest.raises(TypeError, match=r"^sum: got both dim= \(PyTorch's name\) and axis "):
        x.sum(dim=1, axis=1)
    with pytest.raises(TypeError, match=r"^concatenate: got both dim= .* and axis .*pass it once"):
        bp.cat([x, x], dim=0, axis=0)
    with pytest.raises(TypeError, match=r"^softmax: got both dim= .* and axis"):
        F.softmax(x, dim=1, axis=1)
    with pytest.raises(TypeError, match=r"^mean: got both keepdim= .* and keepdims"):
        x.mean(1, keepdim=True, keepdims=True)


def test_an_argument_given_by_position_and_by_pytorchs_keyword_is_a_type_error():
    x = bp.randn(2, 3)
    with pytest.raises(TypeError, match=r"^sum: got both dim= \(PyTorch's name\) and axis "):
        x.sum(1, dim=1)
    with pytest.raises(TypeError, match=r"^transpose: got both dim1= .* and axis1"):
        x.transpose(0, 1, dim1=1)
    with pytest.raises(TypeError, match=r"^permute: got both dims= .* and axes"):
        x.permute(1, 0, dims=(1, 0))
    with pytest.raises(TypeError, match=r"^roll: got both dims= .* and axis"):
        bp.roll(x, 1, 0, dims=0)


# (a positional call, the same call by keyword)
POSITIONAL_CALLS = [
    (lambda x: x.sum(1, True), lambda x: x.sum(dim=1, keepdim=True)),
    (lambda x: x.norm(1, 2, True), lambda x: x.norm(p=1, dim=2, keepdim=True)),
    (lambda x: x.var(0, False, True), lambda x: x.var(dim=0, keepdim=True, correction=0)),
    (lambda x: x.transpose(0, 2), lambda x: x.transpose(dim0=0, dim1=2)),
    (lambda x: x.flatten(1), lambda x: x.flatten(start_dim=1)),
    (lambda x: x.permute(2, 0, 1), lambda x: x.permute((2, 0, 1))),
    (lambda x: x.flip(0, 2), lambda x: x.flip((0, 2))),
    (lambda x: x.roll(1, 0), lambda x: x.roll(shifts=1, dims=0)),
    (lambda x: x.split(2, 2), lambda x: x.split(2, dim=2)),
    (lambda x: bp.cat([x, x], 1), lambda x: bp.cat([x, x], dim=1)),
    (lambda x: F.softmax(x, 1), lambda x: F.softmax(x, dim=1)),
    (lambda x: ops.gather(x, 1, _gather_index()), lambda x: x.gather(dim=1, index=_gather_index())),
]


@pytest.mark.parametrize("positional, by_keyword", POSITIONAL_CALLS)
def test_positional_calls_are_unchanged(positional, by_keyword):
    outputs, grad = _outputs_and_gradient(positional)
    expected_outputs, expected_grad = _outputs_and_gradient(by_keyword)
    for out, expected in zip(outputs, expected_outputs, strict=True):
        np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(grad, expected_grad)


def test_signatures_and_docstrings_keep_our_names():
    assert list(inspect.signature(bp.Tensor.sum).parameters) == ["self", "axis", "keepdims"]
    assert list(inspect.signature(bp.cat).parameters) == ["tensors", "axis"]
    assert bp.logsumexp.__doc__ == inspect.unwrap(bp.logsumexp).__doc__
    assert bp.logsumexp.__name__ == "logsumexp"


def test_pytorch_keyword_names_differentiate_twice():
    x = leaf(randn((2, 3), seed=2))
    bp.gradcheck(lambda x: x.logsumexp(dim=1, keepdim=True).softmax(dim=0), x)
    bp.gradgradcheck(lambda x: F.log_softmax(x.cumsum(dim=1), dim=0).sum(dim=1), x)


def test_a_parameter_the_function_lacks_is_refused_when_decorating():
    with pytest.raises(TypeError, match=r"^torch_names: .* needs a parameter 'axis' and none"):
        torch_names(dim="axis")(lambda x, axes: x)
    with pytest.raises(TypeError, match=r"named 'dim', got parameters \('x', 'dim', 'axis'\)"):
        torch_names(dim="axis")(lambda x, dim, axis: x)


def test_pytorch_keyword_names_on_every_device_match_the_cpu(device):
    assert_matches_the_cpu(
        device,
        lambda x: F.softmax(x.sum(dim=2, keepdim=True).flatten(start_dim=1), dim=-1),
        randn((2, 3, 2), seed=4),
    )
