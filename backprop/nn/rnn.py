"""Recurrent layers with PyTorch's names, parameters and gate order: `RNN`, `LSTM`, `GRU` over
whole sequences and `RNNCell`, `LSTMCell`, `GRUCell` for one step. Each is composed of
differentiable ops (one input projection per layer and direction for all time steps, then a
loop over time for the hidden state), so gradients of any order come for free on every backend."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from backprop import functional as F
from backprop import ops
from backprop.creation import empty, zeros
from backprop.nn import init
from backprop.nn.module import Module, check_sizes
from backprop.nn.parameter import Parameter
from backprop.tensor import Tensor

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]

State = tuple[Tensor, ...]
NONLINEARITIES = ("tanh", "relu")


def _gate(gates: Tensor, index: int, hidden_size: int) -> Tensor:
    """The `index`-th block of `hidden_size` features of stacked gate pre-activations."""
    return gates[..., index * hidden_size : (index + 1) * hidden_size]


def _rnn_step(
    projected: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None, nonlinearity: str
) -> State:
    """The Elman step `h' = act(x_proj + W_hh h + b_hh)` with `act` tanh or relu."""
    (h,) = state
    return (ops.activation(projected + F.linear(h, weight_hh, bias_hh), nonlinearity),)


def _lstm_step(projected: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None) -> State:
    """One LSTM step with gates i, f, g, o: `c' = f c + i g`, `h' = o tanh(c')`."""
    h, c = state
    size = h.shape[-1]
    gates = projected + F.linear(h, weight_hh, bias_hh)
    i = F.sigmoid(_gate(gates, 0, size))
    f = F.sigmoid(_gate(gates, 1, size))
    g = F.tanh(_gate(gates, 2, size))
    o = F.sigmoid(_gate(gates, 3, size))
    c = f * c + i * g
    return o * F.tanh(c), c


def _gru_step(projected: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None) -> State:
    """One GRU step with gates r, z, n as PyTorch: `n = tanh(W_in x + b_in + r (W_hn h +
    b_hn))`, `h' = (1 - z) n + z h`."""
    (h,) = state
    size = h.shape[-1]
    hidden = F.linear(h, weight_hh, bias_hh)
    r = F.sigmoid(_gate(projected, 0, size) + _gate(hidden, 0, size))
    z = F.sigmoid(_gate(projected, 1, size) + _gate(hidden, 1, size))
    n = F.tanh(_gate(projected, 2, size) + r * _gate(hidden, 2, size))
    return (n + z * (h - n),)


def _check_input(
    name: str, input: Any, input_size: int, ndims: tuple[int, int], like: Tensor
) -> None:
    """`input` is a Tensor of `ndims` dimensions, with `input_size` features and the dtype of
    the layer's parameters (`like`)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim not in ndims:
        raise ValueError(
            f"{name}: expected input of {ndims[0]} (unbatched) or {ndims[1]} (batched) "
            f"dimensions, got shape {input.shape}"
        )
    if input.shape[-1] != input_size:
        raise ValueError(
            f"{name}: expected input with last dimension input_size={input_size}, "
            f"got shape {input.shape}"
        )
    _check_dtype(name, "input", input, like)


def _check_dtype(name: str, what: str, tensor: Tensor, like: Tensor) -> None:
    if tensor.dtype != like.dtype:
        raise TypeError(
            f"{name}: {what} dtype {tensor.dtype} differs from the parameters' dtype "
            f"{like.dtype}; convert one with .to(dtype)"
        )


def _check_state(name: str, what: str, tensor: Any, shape: tuple[int, ...], like: Tensor) -> None:
    """A given hidden (or cell) state is a Tensor of `shape` in the parameters' dtype."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected {what} to be a Tensor, got {type(tensor).__name__}")
    if tensor.shape != shape:
        raise ValueError(f"{name}: expected {what} of shape {shape}, got {tensor.shape}")
    _check_dtype(name, what, tensor, like)


def _initial_state(name: str, hx: Any, states: int, shape: tuple[int, ...], like: Tensor) -> State:
    """The given `hx` (a Tensor, or for LSTM a pair (h_0, c_0)) checked against `shape`, or
    zeros of that shape on `like`'s device when it is None; returned as a tuple of states."""
    if hx is None:
        return tuple(zeros(shape, dtype=like.dtype, device=like.device) for _ in range(states))
    if states == 1:
        _check_state(name, "hx", hx, shape, like)
        return (hx,)
    if not isinstance(hx, tuple) or len(hx) != states:
        raise TypeError(f"{name}: expected hx to be a tuple (h_0, c_0), got {type(hx).__name__}")
    for what, tensor in zip(("h_0", "c_0"), hx):
        _check_state(name, what, tensor, shape, like)
    return tuple(hx)


def _check_dropout(name: str, dropout: Any, num_layers: int) -> None:
    """Dropout is a probability; like PyTorch, warn that it does nothing with one layer."""
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
    if not 0 <= dropout <= 1:
        raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            f"{name}: dropout is applied between recurrent layers, so dropout={dropout} does "
            "nothing with num_layers=1",
            stacklevel=4,
        )


def _check_nonlinearity(name: str, nonlinearity: Any) -> None:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


class _RNNBase(Module):
    """What RNN, LSTM and GRU share: `num_layers` stacked layers, each one or two directions,
    with weights `weight_ih_l{k}` (gates * hidden_size, input features), `weight_hh_l{k}`
    (gates * hidden_size, hidden_size) and biases `bias_ih_l{k}`, `bias_hh_l{k}` (suffix
    `_reverse` for the backward direction), all initialised U(-1/sqrt(hidden), 1/sqrt(hidden))."""

    gates = 1
    states = 1
    _step: Callable[..., State]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        name = type(self).__name__
        check_sizes(name, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        _check_dropout(name, dropout, num_layers)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        directions = 2 if bidirectional else 1
        rows = self.gates * hidden_size
        for layer in range(num_layers):
            columns = input_size if layer == 0 else hidden_size * directions
            for suffix in self._suffixes(layer):
                shapes = {"weight_ih": (rows, columns), "weight_hh": (rows, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(rows,), bias_hh=(rows,))
                for kind, shape in shapes.items():
                    parameter = Parameter(empty(shape, dtype=dtype, device=device))
                    setattr(self, kind + suffix, parameter)
        self.reset_parameters()

    def _suffixes(self, layer: int) -> list[str]:
        """Parameter name suffixes of the directions of `layer`: `_l0`, then `_l0_reverse`."""
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound)

    def _sequences(self, input: Tensor, hx: Any) -> tuple[Tensor, State]:
        """The output (L, N, D * hidden) or as the input is laid out, and the final states,
        each (D * num_layers, N, hidden) (without N for unbatched input)."""
        name = type(self).__name__
        weight = self.weight_ih_l0
        _check_input(name, input, self.input_size, (2, 3), weight)
        batched = input.ndim == 3
        batch_axis = 0 if self.batch_first else 1
        x = input if batched else ops.unsqueeze(input, batch_axis)
        if self.batch_first:
            x = ops.transpose(x, 0, 1)
        if x.shape[0] == 0:
            raise ValueError(f"{name}: expected a sequence of length >= 1, got shape {input.shape}")
        directions = 2 if self.bidirectional else 1
        shape = (self.num_layers * directions, x.shape[1], self.hidden_size)
        state = _initial_state(name, hx, self.states, shape if batched else shape[::2], weight)
        if not batched:
            state = tuple(ops.unsqueeze(s, 1) for s in state)
        x, last = self._layers(x, state)
        if self.batch_first:
            x = ops.transpose(x, 0, 1)
        if not batched:
            x = ops.squeeze(x, batch_axis)
            last = tuple(ops.squeeze(s, 1) for s in last)
        return x, last

    def _layers(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """Runs the stack on x (L, N, input_size) from states (D * num_layers, N, hidden):
        each layer's directions see the previous layer's output, concatenated over directions
        and, in training, passed through dropout."""
        directions = 2 if self.bidirectional else 1
        finals: list[State] = []
        for layer in range(self.num_layers):
            if layer > 0:
                x = F.dropout(x, self.dropout, self.training)
            outputs = []
            for direction, suffix in enumerate(self._suffixes(layer)):
                start = tuple(s[layer * directions + direction] for s in state)
                output, final = self._direction(x, start, suffix, reverse=direction == 1)
                outputs.append(output)
                finals.append(final)
            x = outputs[0] if directions == 1 else ops.concatenate(outputs, axis=2)
        return x, tuple(ops.stack([final[i] for final in finals]) for i in range(self.states))

    def _direction(
        self, x: Tensor, state: State, suffix: str, reverse: bool
    ) -> tuple[Tensor, State]:
        """Runs one layer in one direction over x (L, N, features): the input projection of
        every time step in one matmul, then the recurrence step by step."""
        weights = self._parameters
        projected = F.linear(x, weights["weight_ih" + suffix], weights.get("bias_ih" + suffix))
        weight_hh, bias_hh = weights["weight_hh" + suffix], weights.get("bias_hh" + suffix)
        steps = ops.unbind(projected, 0)
        outputs = []
        for step in reversed(steps) if reverse else steps:
            state = self._step(step, state, weight_hh, bias_hh)
            outputs.append(state[0])
        if reverse:
            outputs.reverse()
        return ops.stack(outputs), state

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        return text


class RNN(_RNNBase):
    """Elman RNN `h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`, act tanh or relu, as
    `torch.nn.RNN`: `forward(input, hx=None)` returns (output, h_n)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ):
        _check_nonlinearity("RNN", nonlinearity)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
        )
        self.nonlinearity = nonlinearity

    def _step(self, projected: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None):
        return _rnn_step(projected, state, weight_hh, bias_hh, self.nonlinearity)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._sequences(input, hx)
        return output, h_n


class LSTM(_RNNBase):
    """Long short-term memory with gates i, f, g, o in PyTorch's order, as `torch.nn.LSTM`
    (without `proj_size`): `forward(input, hx=None)` with hx = (h_0, c_0) returns
    (output, (h_n, c_n))."""

    gates = 4
    states = 2
    _step = staticmethod(_lstm_step)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ):
        if proj_size != 0:
            raise NotImplementedError(
                f"LSTM: proj_size is not supported, got proj_size={proj_size}; use 0"
            )
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
        )

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        output, (h_n, c_n) = self._sequences(input, hx)
        return output, (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit with gates r, z, n as `torch.nn.GRU`, the reset gate applied to
    `W_hn h + b_hn`: `forward(input, hx=None)` returns (output, h_n)."""

    gates = 3
    _step = staticmethod(_gru_step)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._sequences(input, hx)
        return output, h_n


class _RNNCellBase(Module):
    """What the cells share: one step with `weight_ih` (gates * hidden_size, input_size),
    `weight_hh` (gates * hidden_size, hidden_size) and biases `bias_ih`, `bias_hh`, all
    initialised U(-1/sqrt(hidden), 1/sqrt(hidden)), on input (N, input_size) or (input_size,)."""

    gates = 1
    states = 1
    _step: Callable[..., State]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        check_sizes(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = self.gates * hidden_size
        self.weight_ih = Parameter(empty(rows, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(rows, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(rows, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(rows, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound)

    def _cell(self, input: Tensor, hx: Any) -> State:
        """The next states, each (N, hidden_size), or (hidden_size,) for unbatched input."""
        name = type(self).__name__
        _check_input(name, input, self.input_size, (1, 2), self.weight_ih)
        batched = input.ndim == 2
        shape = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        state = _initial_state(name, hx, self.states, shape, self.weight_ih)
        if not batched:  # matmul wants matrices: an unbatched step is a batch of one
            input, state = ops.unsqueeze(input, 0), tuple(ops.unsqueeze(s, 0) for s in state)
        projected = F.linear(input, self.weight_ih, self.bias_ih)
        state = self._step(projected, state, self.weight_hh, self.bias_hh)
        return state if batched else tuple(ops.squeeze(s, 0) for s in state)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + (", bias=False" if not self.bias else "")


class RNNCell(_RNNCellBase):
    """One Elman step `h' = act(W_ih x + b_ih + W_hh h + b_hh)`, act tanh or relu, as
    `torch.nn.RNNCell`."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ):
        _check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def _step(self, projected: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None):
        return _rnn_step(projected, state, weight_hh, bias_hh, self.nonlinearity)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        (h,) = self._cell(input, hx)
        return h

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else f"{text}, nonlinearity={self.nonlinearity}"


class LSTMCell(_RNNCellBase):
    """One LSTM step with gates i, f, g, o, as `torch.nn.LSTMCell`: `forward(input, hx=None)`
    with hx = (h, c) returns (h', c')."""

    gates = 4
    states = 2
    _step = staticmethod(_lstm_step)

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        h, c = self._cell(input, hx)
        return h, c


class GRUCell(_RNNCellBase):
    """One GRU step with gates r, z, n, as `torch.nn.GRUCell`."""

    gates = 3
    _step = staticmethod(_gru_step)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        (h,) = self._cell(input, hx)
        return h
