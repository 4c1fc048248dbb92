"""The recurrent layers RNN, LSTM, GRU and their cells compute what their PyTorch namesakes
compute: with the same weights (copied through `load_state_dict`, so names, shapes and gate
order match), the outputs, final states and the gradients of the input, the initial states and
every parameter agree, in float64 tightly and in float32 loosely."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, leaf, randn

import backprop as bp
from backprop import nn

torch = pytest.importorskip("torch")

FLOAT32 = {"rtol": 1e-4, "atol": 1e-5}


def flat(result) -> list:
    """The tensors of a layer's result, nested tuples such as (output, (h_n, c_n)) unpacked."""
    if isinstance(result, tuple):
        return [t for item in result for t in flat(item)]
    return [result]


def call(module, x, states):
    """`module(x)`, `module(x, h)` or, for LSTMs, `module(x, (h, c))`."""
    if not states:
        return module(x)
    return module(x, states[0] if len(states) == 1 else tuple(states))


def compare_with_torch(name, kwargs, input_shape, state_shapes=(), dtype="float64"):
    """Builds layer `name` in both libraries with PyTorch's weights (rounded to `dtype`), runs
    both on the same input and initial states, and compares every output, then the gradients
    of the input, of the states and of every parameter for one random projection of the
    outputs. PyTorch runs in float64."""
    theirs = getattr(torch.nn, name)(**kwargs).double()
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(param.to(getattr(torch, dtype)).double())
    ours = getattr(nn, name)(**kwargs, dtype=dtype)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    arrays = [randn(s, seed=i).astype(dtype) for i, s in enumerate((input_shape, *state_shapes))]
    mine = [leaf(a, dtype) for a in arrays]
    reference = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    outs = flat(call(ours, mine[0], mine[1:]))
    expected = flat(call(theirs, reference[0], reference[1:]))
    tol = FLOAT32 if dtype == "float32" else {}
    assert len(outs) == len(expected)
    for i, (out, want) in enumerate(zip(outs, expected)):
        assert_close(out.numpy(), want.detach().numpy(), dtype, err_msg=f"output {i}", **tol)
    projections = [randn(out.shape, seed=10 + i).astype(dtype) for i, out in enumerate(outs)]
    sum((o * bp.tensor(p)).sum() for o, p in zip(outs, projections)).backward()
    sum(
        (e * torch.tensor(p.astype(np.float64))).sum() for e, p in zip(expected, projections)
    ).backward()
    for i, (x, want) in enumerate(zip(mine, reference)):
        assert_close(x.grad.numpy(), want.grad.numpy(), dtype, err_msg=f"input {i} grad", **tol)
    reference_params = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(reference_params)
    for n, param in ours.named_parameters():
        want = reference_params[n].grad.numpy()
        assert_close(param.grad.numpy(), want, dtype, err_msg=f"{n}.grad", **tol)


LAYER_CASES = {
    "RNN": ({"input_size": 3, "hidden_size": 4}, (5, 2, 3), ()),
    "RNN relu, 2 layers, given h_0": (
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "nonlinearity": "relu"},
        (5, 2, 3),
        ((2, 2, 4),),
    ),
    "RNN bidirectional, batch_first": (
        {"input_size": 3, "hidden_size": 4, "bidirectional": True, "batch_first": True},
        (2, 5, 3),
        ((2, 2, 4),),
    ),
    "RNN unbatched, batch_first, no bias": (
        {"input_size": 3, "hidden_size": 4, "batch_first": True, "bias": False},
        (5, 3),
        ((1, 4),),
    ),
    "LSTM": ({"input_size": 3, "hidden_size": 4}, (5, 2, 3), ()),
    "LSTM 2 layers bidirectional, given (h_0, c_0)": (
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True},
        (4, 2, 3),
        ((4, 2, 4), (4, 2, 4)),
    ),
    "LSTM batch_first, no bias": (
        {"input_size": 3, "hidden_size": 4, "batch_first": True, "bias": False},
        (2, 5, 3),
        (),
    ),
    "LSTM unbatched, 2 layers, given (h_0, c_0)": (
        {"input_size": 3, "hidden_size": 4, "num_layers": 2},
        (5, 3),
        ((2, 4), (2, 4)),
    ),
    "GRU": ({"input_size": 3, "hidden_size": 4}, (5, 2, 3), ((1, 2, 4),)),
    "GRU 2 layers bidirectional, batch_first": (
        {
            "input_size": 3,
            "hidden_size": 4,
            "num_layers": 2,
            "bidirectional": True,
            "batch_first": True,
        },
        (2, 4, 3),
        (),
    ),
    "GRU unbatched bidirectional, no bias": (
        {"input_size": 3, "hidden_size": 4, "bidirectional": True, "bias": False},
        (5, 3),
        ((2, 4),),
    ),
}

CELL_CASES = {
    "RNNCell": ({"input_size": 3, "hidden_size": 4}, (2, 3), ((2, 4),)),
    "RNNCell relu, no bias, default h": (
        {"input_size": 3, "hidden_size": 4, "nonlinearity": "relu", "bias": False},
        (2, 3),
        (),
    ),
    "RNNCell unbatched": ({"input_size": 3, "hidden_size": 4}, (3,), ((4,),)),
    "LSTMCell": ({"input_size": 3, "hidden_size": 4}, (2, 3), ((2, 4), (2, 4))),
    "LSTMCell unbatched, no bias, default (h, c)": (
        {"input_size": 3, "hidden_size": 4, "bias": False},
        (3,),
        (),
    ),
    "GRUCell": ({"input_size": 3, "hidden_size": 4}, (2, 3), ((2, 4),)),
    "GRUCell unbatched, default h": ({"input_size": 3, "hidden_size": 4}, (3,), ()),
}

CASES = {**LAYER_CASES, **CELL_CASES}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_layers_and_cells_match_torch(case, dtype):
    kwargs, input_shape, state_shapes = CASES[case]
    compare_with_torch(case.split()[0], kwargs, input_shape, state_shapes, dtype)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_output_and_final_state_shapes_are_torch_s(name):
    kwargs = {"input_size": 3, "hidden_size": 4, "num_layers": 3, "bidirectional": True}
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    for shape in [(5, 2, 3), (5, 3)]:
        mine = [t.shape for t in flat(ours(bp.tensor(randn(shape), dtype="float32")))]
        expected = [tuple(t.shape) for t in flat(theirs(torch.randn(shape)))]
        assert mine == expected


def test_dropout_acts_between_layers_in_training_only():
    kwargs = {"input_size": 3, "hidden_size": 4, "num_layers": 2, "dropout": 0.5}
    theirs = torch.nn.GRU(**kwargs).double().eval()
    ours = nn.GRU(**kwargs, dtype="float64")
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = bp.tensor(randn((5, 2, 3)))
    evaluated, h_eval = ours.eval()(x)
    expected, _ = theirs(torch.tensor(x.numpy()))
    assert_close(evaluated.numpy(), expected.detach().numpy(), err_msg="evaluation output")
    bp.manual_seed(0)
    trained, h_train = ours.train()(x)
    assert not np.allclose(trained.numpy(), evaluated.numpy())
    np.testing.assert_array_equal(h_train.numpy()[0], h_eval.numpy()[0])  # the first layer


def test_gradcheck_of_a_bidirectional_lstm():
    bp.manual_seed(0)
    lstm = nn.LSTM(2, 2, bidirectional=True, dtype="float64")

    def fn(x, h, c):
        output, (h_n, c_n) = lstm(x, (h, c))
        return output, h_n, c_n

    assert bp.gradcheck(
        fn, leaf(randn((3, 1, 2))), leaf(randn((2, 1, 2), 1)), leaf(randn((2, 1, 2), 2))
    )


def test_gradgradcheck_of_a_gru():
    bp.manual_seed(0)
    gru = nn.GRU(2, 2, dtype="float64")
    assert bp.gradgradcheck(
        lambda x, h: gru(x, h)[0], leaf(randn((2, 1, 2))), leaf(randn((1, 1, 2), 1))
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: nn.RNN(3, 16, num_layers=2),
        lambda: nn.LSTM(3, 16, bidirectional=True),
        lambda: nn.GRU(3, 16),
        lambda: nn.LSTMCell(3, 16),
    ],
    ids=["RNN", "LSTM", "GRU", "LSTMCell"],
)
def test_every_parameter_starts_uniform_within_one_over_sqrt_hidden_size(build):
    bp.manual_seed(0)
    layer = build()
    bound = 1 / math.sqrt(16)
    for name, param in layer.named_parameters():
        assert param.dtype == np.float32, name
        assert np.all(np.abs(param.numpy()) <= bound), name
    values = np.concatenate([param.numpy().ravel() for param in layer.parameters()])
    assert values.max() > 0.95 * bound and values.min() < -0.95 * bound
    assert abs(values.mean()) < 0.1 * bound


def test_initialisation_follows_the_library_seed():
    bp.manual_seed(3)
    first = nn.LSTM(3, 4).weight_hh_l0.numpy()
    bp.manual_seed(3)
    np.testing.assert_array_equal(nn.LSTM(3, 4).weight_hh_l0.numpy(), first)


REPR_CASES = [
    ("RNN", (3, 4), {}),
    ("RNN", (3, 4), {"num_layers": 2, "nonlinearity": "relu", "bias": False, "batch_first": True}),
    ("LSTM", (3, 4), {"dropout": 0.5, "num_layers": 2, "bidirectional": True}),
    ("GRU", (3, 4), {"num_layers": 3}),
    ("RNNCell", (3, 4), {"nonlinearity": "relu", "bias": False}),
    ("LSTMCell", (3, 4), {}),
    ("GRUCell", (3, 4), {"bias": False}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), REPR_CASES)
def test_repr_and_state_dict_keys_are_torch_s(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: nn.RNN(3, 0), ValueError, "RNN: hidden_size must be a positive int, got 0"),
        (lambda: nn.GRU(0, 4), ValueError, "GRU: input_size must be a positive int, got 0"),
        (lambda: nn.LSTM(3, 4, num_layers=0), ValueError, "LSTM: num_layers must be a positive"),
        (lambda: nn.GRUCell(3, -1), ValueError, "GRUCell: hidden_size must be a positive int"),
        (
            lambda: nn.RNN(3, 4, nonlinearity="sigmoid"),
            ValueError,
            "RNN: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'",
        ),
        (
            lambda: nn.RNNCell(3, 4, nonlinearity="gelu"),
            ValueError,
            "RNNCell: nonlinearity must be",
        ),
        (
            lambda: nn.GRU(3, 4, 2, dropout=1.5),
            ValueError,
            r"GRU: dropout must be a number in \[0, 1\], got 1.5",
        ),
        (
            lambda: nn.LSTM(3, 4, 2, dropout=-0.1),
            ValueError,
            r"LSTM: dropout must be a number in \[0, 1\]",
        ),
        (
            lambda: nn.LSTM(3, 4, proj_size=2),
            NotImplementedError,
            "LSTM: proj_size is not supported",
        ),
    ],
)
def test_bad_constructor_arguments_are_clear_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_dropout_with_one_layer_warns_as_torch_does():
    with pytest.warns(UserWarning, match="RNN: dropout is applied between recurrent layers"):
        nn.RNN(3, 4, dropout=0.5)


def x64(*shape):
    """Standard normal float64 data of `shape` as a tensor."""
    return bp.tensor(randn(shape))


@pytest.mark.parametrize(
    ("module", "args", "error", "match"),
    [
        (
            nn.RNN(3, 4, dtype="float64"),
            (x64(5, 2, 3, 1),),
            ValueError,
            r"RNN: expected input of 2 \(unbatched\) or 3 \(batched\) dimensions, "
            r"got shape \(5, 2, 3, 1\)",
        ),
        (
            nn.LSTMCell(3, 4, dtype="float64"),
            (x64(5, 2, 3),),
            ValueError,
            r"LSTMCell: expected input of 1 \(unbatched\) or 2 \(batched\) dimensions",
        ),
        (
            nn.GRU(3, 4, dtype="float64"),
            (x64(5, 2, 2),),
            ValueError,
            r"GRU: expected input with last dimension input_size=3, got shape \(5, 2, 2\)",
        ),
        (
            nn.GRUCell(3, 4, dtype="float64"),
            (x64(2, 5),),
            ValueError,
            "GRUCell: expected input with last dimension input_size=3",
        ),
        (
            nn.RNN(3, 4, dtype="float64"),
            (x64(0, 2, 3),),
            ValueError,
            r"RNN: expected a sequence of length >= 1, got shape \(0, 2, 3\)",
        ),
        (
            nn.RNN(3, 4, dtype="float64"),
            ([[1.0, 2.0, 3.0]],),
            TypeError,
            "RNN: expected input to be a Tensor, got list",
        ),
        (
            nn.RNN(3, 4, num_layers=2, dtype="float64"),
            (x64(5, 2, 3), x64(1, 2, 4)),
            ValueError,
            r"RNN: expected hx of shape \(2, 2, 4\), got \(1, 2, 4\)",
        ),
        (
            nn.GRU(3, 4, bidirectional=True, dtype="float64"),
            (x64(5, 3), x64(2, 1, 4)),
            ValueError,
            r"GRU: expected hx of shape \(2, 4\), got \(2, 1, 4\)",
        ),
        (
            nn.LSTM(3, 4, dtype="float64"),
            (x64(5, 2, 3), x64(1, 2, 4)),
            TypeError,
            r"LSTM: expected hx to be a tuple \(h_0, c_0\), got Tensor",
        ),
        (
            nn.LSTM(3, 4, dtype="float64"),
            (x64(5, 2, 3), (x64(1, 2, 4), x64(1, 3, 4))),
            ValueError,
            r"LSTM: expected c_0 of shape \(1, 2, 4\), got \(1, 3, 4\)",
        ),
        (
            nn.LSTMCell(3, 4, dtype="float64"),
            (x64(2, 3), (x64(2, 4), None)),
            TypeError,
            "LSTMCell: expected c_0 to be a Tensor, got NoneType",
        ),
        (
            nn.RNNCell(3, 4, dtype="float64"),
            (x64(2, 3), x64(4)),
            ValueError,
            r"RNNCell: expected hx of shape \(2, 4\), got \(4,\)",
        ),
        (
            nn.GRU(3, 4),
            (x64(5, 2, 3),),
            TypeError,
            "GRU: input dtype float64 differs from the parameters' dtype float32",
        ),
        (
            nn.GRU(3, 4, dtype="float64"),
            (x64(5, 2, 3), bp.zeros(1, 2, 4)),
            TypeError,
            "GRU: hx dtype float32 differs from the parameters' dtype float64",
        ),
    ],
)
def test_bad_inputs_are_clear_errors(module, args, error, match):
    with pytest.raises(error, match=match):
        module(*args)


def test_recurrent_layers_run_unchanged_on_every_device(device):
    """Tiny shapes: the Numba backend runs here in CUDA's simulator."""
    x, h = randn((2, 1, 2)), randn((2, 1, 2), 1)
    results = []
    for where in ("cpu", device):
        bp.manual_seed(0)
        lstm = nn.LSTM(2, 2, bidirectional=True, dtype="float64").to(where)
        gru = nn.GRUCell(4, 2, dtype="float64").to(where)
        output, (h_n, c_n) = lstm(
            bp.tensor(x, device=where), (bp.tensor(h, device=where), bp.tensor(h, device=where))
        )
        out = gru(output[1], h_n[1]) * c_n[0]
        out.sum().backward()
        params = [*lstm.parameters(), *gru.parameters()]
        results.append([out.numpy(), *(p.grad.numpy() for p in params)])
    for on_cpu, on_device in zip(*results):
        np.testing.assert_allclose(on_device, on_cpu, rtol=1e-9, atol=1e-12)
