"""The transformer layers compute what PyTorch's do: `nn.TransformerEncoderLayer`,
`nn.TransformerDecoderLayer`, their stacks and the full `nn.Transformer` load a PyTorch
state_dict as is and agree with their PyTorch namesakes in outputs and in the gradients of
every input and parameter, post-norm and pre-norm, sequence- or batch-first, with every mask;
the stacks deep-copy their layer; dropout acts in training only; and bad arguments get
messages naming the layer, what it got and what it needs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, leaf, randn
from torch_oracle import torch

import backprop as bp
from backprop import nn

causal_mask = nn.Transformer.generate_square_subsequent_mask
# PyTorch's Transformer builds its TransformerEncoder with the nested-tensor fast path asked
# for, and warns that it cannot have it; the math path is the one compared here.
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")


def check(build, shapes, masks=None, call=None, dtype="float64", view=None) -> None:
    """Builds the layer with `build(nn)` in both frameworks, gives ours PyTorch's weights
    (randomised, rounded to `dtype`), runs both on the same inputs of `shapes` (through `view`
    when given) and masks (host arrays), and compares the output and the gradients of every
    input and parameter, which must have PyTorch's names, in PyTorch's order."""
    masks, call = masks or {}, call or {}
    torch.manual_seed(0)
    theirs = build(torch.nn).double()
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(torch.randn_like(param).to(getattr(torch, dtype)).double())
    ours = build(nn).to(dtype=dtype)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    arrays = [randn(s, seed=i).astype(dtype) for i, s in enumerate(shapes)]
    mine = [leaf(a, dtype) for a in arrays]
    reference = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    view = view or (lambda t: t)
    our_masks = {k: bp.tensor(m if m.dtype == bool else m.astype(dtype)) for k, m in masks.items()}
    out = ours(*(view(t) for t in mine), **our_masks, **call)
    expected = theirs(*(view(t) for t in reference), **_torch(masks), **call)
    close(out, expected, dtype, "output")
    projection = randn(out.shape, seed=7).astype(dtype)
    (out * bp.tensor(projection)).sum().backward()
    (expected * torch.tensor(projection.astype(np.float64))).sum().backward()
    for i, (a, b) in enumerate(zip(mine, reference)):
        close(a.grad, b.grad, dtype, f"input {i} grad")
    expected_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(expected_params)
    for name, param in ours.named_parameters():
        close(param.grad, expected_params[name].grad, dtype, f"{name}.grad")


def close(actual: bp.Tensor, expected, dtype: str, what: str) -> None:
    """Float64 within the helpers' tolerance; float32 also within 1e-5 of the largest
    magnitude, as sums through LayerNorm cancel to values near 0."""
    expected = expected.detach().numpy()
    atol = 1e-5 * max(1.0, np.abs(expected).max()) if dtype == "float32" else None
    assert_close(actual.numpy(), expected, dtype, atol=atol, err_msg=what)


def _torch(masks: dict) -> dict:
    return {name: torch.tensor(m) for name, m in masks.items()}


def encoder_layer(**options):
    """An encoder layer of d_model 8, 2 heads, feed-forward width 16 and no dropout."""
    return lambda n: n.TransformerEncoderLayer(8, 2, 16, 0.0, **options)


def decoder_layer(**options):
    return lambda n: n.TransformerDecoderLayer(8, 2, 16, 0.0, **options)


def blocked_keys(n: int, length: int) -> np.ndarray:
    """A bool key padding mask (True = padding) that leaves every row some keys."""
    padding = np.zeros((n, length), dtype=bool)
    padding[0, -1] = padding[-1, :2] = True
    return padding


def causal(length: int) -> np.ndarray:
    """PyTorch's float causal mask: -inf above the diagonal."""
    return causal_mask(length, dtype="float64").numpy()


def causal_bool(length: int) -> np.ndarray:
    """The causal mask as bools, True above the diagonal (to pair with a bool padding mask:
    PyTorch warns when the two kinds are mixed)."""
    return ~np.tril(np.ones((length, length), dtype=bool))


norm_first = pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
batch_first = pytest.mark.parametrize(
    "batch_first", [False, True], ids=["seq-first", "batch-first"]
)
activations = pytest.mark.parametrize("activation", ["relu", "gelu"])


# -- TransformerEncoderLayer -------------------------------------------------------------------


@norm_first
@batch_first
@activations
def test_encoder_layer_matches_torch(norm_first, batch_first, activation):
    shape = (2, 3, 8) if batch_first else (3, 2, 8)
    options = {"norm_first": norm_first, "batch_first": batch_first, "activation": activation}
    check(encoder_layer(**options), [shape])


def test_encoder_layer_matches_torch_in_float32():
    check(encoder_layer(), [(3, 2, 8)], dtype="float32")


@norm_first
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_encoder_layer_src_mask_and_key_padding_mask(norm_first, kind):
    """In the transformer layers a True in a bool mask means 'may not attend', as in PyTorch."""
    masks = {"src_mask": randn((4, 4), seed=20) > 0.8, "src_key_padding_mask": blocked_keys(2, 4)}
    np.fill_diagonal(masks["src_mask"], False)
    if kind == "float":
        masks = {name: np.where(m, -math.inf, 0.0) - 0.3 * ~m for name, m in masks.items()}
    for picked in (["src_mask"], ["src_key_padding_mask"], list(masks)):
        check(
            encoder_layer(norm_first=norm_first),
            [(4, 2, 8)],
            masks={name: masks[name] for name in picked},
        )


def test_encoder_layer_src_mask_per_batch_and_head():
    mask = randn((2 * 2, 4, 4), seed=21)
    check(encoder_layer(batch_first=True), [(2, 4, 8)], masks={"src_mask": mask})


@pytest.mark.parametrize("padding", [False, True], ids=["alone", "with key padding"])
def test_encoder_layer_is_causal_is_a_hint_that_needs_the_causal_mask(padding):
    masks = {"src_mask": causal_bool(4) if padding else causal(4)}
    if padding:
        masks["src_key_padding_mask"] = blocked_keys(2, 4)
    check(encoder_layer(), [(4, 2, 8)], masks=masks, call={"is_causal": True})


def test_encoder_layer_unbatched_input():
    masks = {"src_mask": causal_bool(4), "src_key_padding_mask": blocked_keys(1, 4)[0]}
    check(encoder_layer(norm_first=True), [(4, 8)], masks=masks)


def test_encoder_layer_takes_a_callable_or_module_activation():
    check(encoder_layer(activation=lambda x: x.tanh()), [(3, 2, 8)])
    check(
        lambda n: n.TransformerEncoderLayer(8, 2, 16, 0.0, activation=n.GELU("tanh")), [(3, 2, 8)]
    )


@norm_first
def test_layers_without_bias_and_with_layer_norm_eps(norm_first):
    options = {"bias": False, "layer_norm_eps": 0.5, "norm_first": norm_first}
    check(encoder_layer(**options), [(3, 2, 8)])
    check(decoder_layer(**options), [(3, 2, 8), (4, 2, 8)])
    layer = nn.TransformerDecoderLayer(8, 2, layer_norm_eps=0.5, bias=False)
    assert [m.eps for m in (layer.norm1, layer.norm2, layer.norm3)] == [0.5] * 3
    assert layer.linear1.bias is None and layer.self_attn.in_proj_bias is None


def test_encoder_layer_permuted_input_and_edge_shapes():
    check(encoder_layer(), [(2, 3, 8)], view=lambda t: t.transpose(0, 1))
    check(encoder_layer(), [(1, 1, 8)])
    check(encoder_layer(batch_first=True), [(0, 3, 8)])


# -- TransformerDecoderLayer -------------------------------------------------------------------


@norm_first
@batch_first
@activations
def test_decoder_layer_matches_torch(norm_first, batch_first, activation):
    shapes = [(2, 3, 8), (2, 5, 8)] if batch_first else [(3, 2, 8), (5, 2, 8)]
    options = {"norm_first": norm_first, "batch_first": batch_first, "activation": activation}
    check(decoder_layer(**options), shapes)


@norm_first
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_decoder_layer_masks(norm_first, kind):
    masks = {
        "tgt_mask": causal_bool(4),
        "memory_mask": randn((4, 5), seed=22) > 0.8,
        "tgt_key_padding_mask": blocked_keys(2, 4),
        "memory_key_padding_mask": blocked_keys(2, 5),
    }
    masks["memory_mask"][:, 2] = False
    if kind == "float":
        masks = {name: np.where(m, -math.inf, 0.0) - 0.3 * ~m for name, m in masks.items()}
    check(decoder_layer(norm_first=norm_first), [(4, 2, 8), (5, 2, 8)], masks=masks)


def test_decoder_layer_causal_hints():
    masks = {"tgt_mask": causal(4), "memory_mask": causal(4)}
    call = {"tgt_is_causal": True, "memory_is_causal": True}
    check(decoder_layer(batch_first=True), [(2, 4, 8), (2, 4, 8)], masks=masks, call=call)


def test_decoder_layer_unbatched_input():
    masks = {
        "tgt_mask": causal(3),
        "memory_key_padding_mask": np.where(blocked_keys(1, 5)[0], -math.inf, 0.0),
    }
    check(decoder_layer(), [(3, 8), (5, 8)], masks=masks)


# -- stacks ------------------------------------------------------------------------------------


def encoder_stack(**options):
    """Two encoder layers and a final LayerNorm (PyTorch's nested-tensor switch off, since
    it only warns here)."""
    return lambda n: n.TransformerEncoder(
        n.TransformerEncoderLayer(8, 2, 16, 0.0, **options),
        2,
        norm=n.LayerNorm(8),
        enable_nested_tensor=False,
    )


def decoder_stack(**options):
    return lambda n: n.TransformerDecoder(
        n.TransformerDecoderLayer(8, 2, 16, 0.0, **options), 2, norm=n.LayerNorm(8)
    )


@norm_first
def test_encoder_stack_with_final_norm_matches_torch(norm_first):
    masks = {"mask": causal_bool(4), "src_key_padding_mask": blocked_keys(2, 4)}
    check(encoder_stack(norm_first=norm_first, batch_first=True), [(2, 4, 8)], masks=masks)
    check(encoder_stack(), [(4, 2, 8)], masks={"mask": causal(4)}, call={"is_causal": True})


@norm_first
def test_decoder_stack_with_final_norm_matches_torch(norm_first):
    masks = {"tgt_mask": causal_bool(4), "memory_key_padding_mask": blocked_keys(2, 5)}
    check(decoder_stack(norm_first=norm_first), [(4, 2, 8), (5, 2, 8)], masks=masks)
    call = {"tgt_is_causal": True}
    check(decoder_stack(), [(4, 2, 8), (5, 2, 8)], masks={"tgt_mask": causal(4)}, call=call)


def test_stacks_deep_copy_the_layer():
    """Each layer is a copy with its own parameters, starting from the given layer's values,
    and the given layer itself is not part of the stack, as in PyTorch."""
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    stack = nn.TransformerEncoder(layer, 3)
    weights = [copy.linear1.weight for copy in stack.layers]
    assert len({id(w) for w in [layer.linear1.weight, *weights]}) == 4
    for weight in weights:
        np.testing.assert_array_equal(weight.numpy(), layer.linear1.weight.numpy())
    with bp.no_grad():
        weights[0].zero_()
    assert np.all(weights[1].numpy() == layer.linear1.weight.numpy())
    assert stack.num_layers == 3 and stack.norm is None
    assert len(list(stack.parameters())) == 3 * len(list(layer.parameters()))


# -- Transformer -------------------------------------------------------------------------------


def transformer(**options):
    return lambda n: n.Transformer(8, 2, 1, 2, 16, 0.0, **options)


@norm_first
@batch_first
def test_transformer_matches_torch(norm_first, batch_first):
    shapes = [(2, 5, 8), (2, 4, 8)] if batch_first else [(5, 2, 8), (4, 2, 8)]
    masks = {
        "src_key_padding_mask": blocked_keys(2, 5),
        "tgt_mask": causal_bool(4),
        "tgt_key_padding_mask": blocked_keys(2, 4),
        "memory_key_padding_mask": blocked_keys(2, 5),
    }
    options = {"norm_first": norm_first, "batch_first": batch_first}
    check(transformer(**options), shapes, masks=masks)


def test_transformer_masks_and_causal_hints():
    masks = {"src_mask": causal(5), "tgt_mask": causal(5), "memory_mask": causal(5)}
    call = {"src_is_causal": True, "tgt_is_causal": True, "memory_is_causal": True}
    check(transformer(activation="gelu"), [(5, 2, 8), (5, 2, 8)], masks=masks, call=call)
    check(transformer(), [(5, 8), (3, 8)])


def test_transformer_custom_encoder_and_decoder():
    def build(n):
        encoder = n.TransformerEncoder(
            n.TransformerEncoderLayer(8, 2, 4, 0.0), 1, enable_nested_tensor=False
        )
        decoder = n.TransformerDecoder(n.TransformerDecoderLayer(8, 2, 4, 0.0), 1)
        return n.Transformer(8, 2, custom_encoder=encoder, custom_decoder=decoder)

    check(build, [(3, 2, 8), (2, 2, 8)])
    model = build(nn)
    assert model.encoder.norm is None and model.decoder.norm is None


def test_transformer_parameters_have_torch_names_shapes_and_xavier_init():
    ours = nn.Transformer(8, 2, 2, 1, 16)
    theirs = torch.nn.Transformer(8, 2, 2, 1, 16)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, param in ours.named_parameters():
        values = param.numpy()
        if param.ndim > 1:
            bound = math.sqrt(6 / sum(param.shape))
            assert bound / 2 < np.abs(values).max() <= bound, name
        elif name.endswith(("norm1.weight", "norm2.weight", "norm3.weight", "norm.weight")):
            assert np.all(values == 1), name
    assert (ours.d_model, ours.nhead, ours.batch_first) == (8, 2, False)


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_generate_square_subsequent_mask_matches_torch(dtype):
    mask = causal_mask(4, dtype=dtype)
    expected = torch.nn.Transformer.generate_square_subsequent_mask(
        4, dtype=None if dtype is None else torch.float64
    )
    assert mask.dtype == np.dtype(dtype or "float32")
    np.testing.assert_array_equal(mask.numpy(), expected.numpy())
    assert causal_mask(0).shape == (0, 0)


# -- derivatives, dropout, devices -------------------------------------------------------------


def test_layers_gradcheck_and_gradgradcheck():
    encoder = nn.TransformerEncoderLayer(4, 2, 3, 0.0, activation="gelu").double()
    decoder = nn.TransformerDecoderLayer(4, 2, 3, 0.0, norm_first=True).double()
    src, tgt = leaf(randn((2, 1, 4))), leaf(randn((3, 1, 4), seed=1))
    mask = bp.tensor(causal(3))
    assert bp.gradcheck(encoder, src)
    assert bp.gradgradcheck(encoder, src)
    assert bp.gradcheck(lambda t, m: decoder(t, m, tgt_mask=mask), tgt, src)
    assert bp.gradgradcheck(lambda t, m: decoder(t, m, tgt_mask=mask), tgt, src)


def test_dropout_applies_in_training_only():
    layers = [
        (nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5).double(), ()),
        (nn.TransformerDecoderLayer(8, 2, 16, dropout=0.5).double(), (randn((5, 2, 8)),)),
    ]
    x = randn((3, 2, 8), seed=1)
    for layer, memory in layers:
        inputs = [bp.tensor(a) for a in (x, *memory)]
        first, second = layer(*inputs), layer(*inputs)
        assert first.shape == second.shape == x.shape
        assert not np.allclose(first.numpy(), second.numpy())
        layer.eval()
        np.testing.assert_array_equal(layer(*inputs).numpy(), layer(*inputs).numpy())


def test_decoder_layer_on_every_device(device):
    layer = nn.TransformerDecoderLayer(4, 2, 4, 0.0).double()
    tgt, memory = randn((3, 1, 4)), randn((2, 1, 4), seed=1)
    results = []
    for where in ("cpu", device):
        layer.to(where)
        layer.zero_grad()
        inputs = [bp.tensor(a, device=where, requires_grad=True) for a in (tgt, memory)]
        mask = causal_mask(3, device=where, dtype="float64")
        out = layer(*inputs, tgt_mask=mask, tgt_is_causal=True)
        (out * out).sum().backward()
        results.append([out.numpy(), *(t.grad.numpy() for t in inputs)])
        results[-1] += [p.grad.numpy() for p in layer.parameters()]
    for on_device, on_cpu in zip(results[1], results[0]):
        assert_close(on_device, on_cpu)


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["TransformerEncoderLayer", "TransformerDecoderLayer"])
@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"d_model": 6, "nhead": 4}, ValueError, r"d_model \(6\) must be divisible by nhead \(4\)"),
        ({"d_model": 0}, ValueError, "d_model must be a positive int, got 0"),
        ({"dim_feedforward": 0}, ValueError, "dim_feedforward must be a positive int, got 0"),
        ({"dropout": 1.5}, ValueError, r"dropout must be in \[0, 1\], got 1.5"),
        (
            {"activation": "tanh"},
            ValueError,
            "activation must be 'relu', 'gelu' or a callable, got 'tanh'",
        ),
        ({"activation": 3}, TypeError, "activation must be 'relu', 'gelu' or a callable, got int"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_layer_constructor_validation(layer, options, error, match):
    options = {"d_model": 8, "nhead": 2, **options}
    with pytest.raises(error, match=f"{layer}: {match}"):
        getattr(nn, layer)(**options)


def test_stack_and_transformer_constructor_validation():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(ValueError, match="TransformerEncoder: num_layers must be a positive int"):
        nn.TransformerEncoder(layer, 0)
    with pytest.raises(TypeError, match="TransformerDecoder: decoder_layer must be a Module, got"):
        nn.TransformerDecoder("layer", 2)
    with pytest.raises(TypeError, match="TransformerEncoder: norm must be a Module or None, got"):
        nn.TransformerEncoder(layer, 2, norm=8)
    with pytest.raises(TypeError, match="Transformer: custom_decoder must be a Module or None"):
        nn.Transformer(8, 2, custom_decoder=layer.linear1.weight)
    with pytest.raises(ValueError, match="TransformerEncoderLayer: activation must be 'relu'"):
        nn.Transformer(8, 2, activation="swish")
    with pytest.raises(ValueError, match=r"generate_square_subsequent_mask: sz must be a non-neg"):
        causal_mask(-1)


x328 = bp.tensor(randn((3, 2, 8)))
encoder8 = nn.TransformerEncoderLayer(8, 2, 16).double()
decoder8 = nn.TransformerDecoderLayer(8, 2, 16, batch_first=True).double()
transformer8 = nn.Transformer(8, 2, 1, 1, 16).double()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: encoder8(x328[..., :6]),
            ValueError,
            r"TransformerEncoderLayer: src must be batched .* E = d_model = 8, got \(3, 2, 6\)",
        ),
        (lambda: encoder8(x328[0, 0]), ValueError, r"TransformerEncoderLayer: src .*got \(8,\)"),
        (lambda: encoder8(np.zeros((3, 2, 8))), TypeError, "src must be a Tensor, got ndarray"),
        (
            lambda: decoder8(x328, x328[:1]),
            ValueError,
            r"TransformerDecoderLayer: tgt and memory must both be unbatched or both batched "
            r"with one batch size \(axis 0\), got tgt \(3, 2, 8\) and memory \(1, 2, 8\)",
        ),
        (lambda: decoder8(x328, x328[0]), ValueError, "tgt and memory must both be unbatched"),
        (lambda: decoder8(x328, x328[..., :4]), ValueError, r"memory must be batched .*= 8"),
        (
            lambda: transformer8(x328, x328[:, :1]),
            ValueError,
            r"Transformer: src and tgt must both .* \(axis 1\)",
        ),
        (lambda: transformer8(x328, x328[..., :4]), ValueError, r"Transformer: tgt must be"),
        (
            lambda: encoder8(x328, src_key_padding_mask=bp.tensor(np.ones((2, 4), bool))),
            ValueError,
            r"MultiheadAttention: key_padding_mask must have shape \(N, S\) = \(2, 3\)",
        ),
        (
            lambda: encoder8(x328, is_causal=True),
            ValueError,
            "MultiheadAttention: is_causal=True is a hint",
        ),
        (
            lambda: decoder8(x328, x328, memory_is_causal=True),
            ValueError,
            "MultiheadAttention: is_causal=True is a hint",
        ),
        (
            lambda: transformer8(x328, x328, src_is_causal=True),
            ValueError,
            "MultiheadAttention: is_causal=True is a hint",
        ),
        (
            lambda: transformer8(x328, x328, tgt_is_causal=True),
            ValueError,
            "MultiheadAttention: is_causal=True is a hint",
        ),
        (
            lambda: transformer8(x328, x328, memory_is_causal=True),
            ValueError,
            "MultiheadAttention: is_causal=True is a hint",
        ),
    ],
)
def test_forward_validation(call, error, match):
    """Inputs are checked by the layer; masks by the MultiheadAttention that takes them."""
    with pytest.raises(error, match=match):
        call()
