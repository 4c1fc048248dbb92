"""Attention computes what PyTorch's does: `F.scaled_dot_product_attention` and
`nn.MultiheadAttention` agree with their PyTorch namesakes (same inputs, same weights through
`load_state_dict`) in outputs, attention weights and the gradients of every input and
parameter, in float64 tightly and in float32 loosely; their second derivatives pass
gradgradcheck; and bad arguments get messages naming the op, what it got and what it needs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, leaf, randn
from torch_oracle import compare, torch

import backprop as bp
import backprop.nn.functional as F
from backprop import nn

sdpa = F.scaled_dot_product_attention


def constant(array: np.ndarray, framework, dtype: str):
    """`array` as a constant of the framework whose functional module is `framework`; float
    masks in the compared dtype (PyTorch always runs in float64)."""
    if framework is F:
        return bp.tensor(array if array.dtype == bool else array.astype(dtype))
    return torch.tensor(array)


# -- scaled_dot_product_attention --------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes",
    [
        [(3, 4), (5, 4), (5, 6)],
        [(2, 3, 3, 4), (2, 3, 5, 4), (2, 3, 5, 2)],
        [(2, 1, 3, 4), (1, 3, 5, 4), (3, 5, 2)],
    ],
    ids=["unbatched", "batch and heads", "broadcast batch axes"],
)
def test_sdpa_matches_torch(dtype, shapes):
    compare(lambda f, q, k, v: f.scaled_dot_product_attention(q, k, v), shapes, dtype)


def test_sdpa_scale_replaces_one_over_sqrt_e(dtype):
    shapes = [(2, 3, 4), (2, 5, 4), (2, 5, 3)]
    compare(lambda f, q, k, v: f.scaled_dot_product_attention(q, k, v, scale=0.7), shapes, dtype)


def test_sdpa_bool_mask_marks_the_pairs_that_take_part(dtype):
    allowed = randn((2, 1, 3, 5), seed=11) > -0.5
    allowed[..., 0] = True  # every query keeps a key

    def attend(f, q, k, v):
        return f.scaled_dot_product_attention(q, k, v, attn_mask=constant(allowed, f, dtype))

    compare(attend, [(2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3)], dtype)


def test_sdpa_float_mask_is_added_to_the_scores(dtype):
    bias = randn((3, 5), seed=12)
    bias[1, 2] = -math.inf

    def attend(f, q, k, v):
        return f.scaled_dot_product_attention(q, k, v, attn_mask=constant(bias, f, dtype))

    compare(attend, [(2, 3, 4), (2, 5, 4), (2, 5, 3)], dtype)


@pytest.mark.parametrize(("tgt", "src"), [(4, 4), (3, 5), (5, 3)])
def test_sdpa_is_causal_lets_query_i_see_keys_up_to_i(dtype, tgt, src):
    compare(
        lambda f, q, k, v: f.scaled_dot_product_attention(q, k, v, is_causal=True),
        [(2, tgt, 4), (2, src, 4), (2, src, 3)],
        dtype,
    )


def test_sdpa_row_with_every_key_masked_gives_zeros_as_torch_on_the_cpu():
    allowed = np.ones((3, 5), dtype=bool)
    allowed[1] = False
    bias = np.where(allowed, 0.0, -math.inf)
    for mask in (allowed, bias):

        def attend(f, q, k, v, mask=mask):
            return f.scaled_dot_product_attention(q, k, v, attn_mask=constant(mask, f, "float64"))

        compare(attend, [(2, 3, 4), (2, 5, 4), (2, 5, 3)])
    q, k, v = (leaf(randn(s, seed=i)) for i, s in enumerate([(3, 4), (5, 4), (5, 3)]))
    out = sdpa(q, k, v, attn_mask=bp.tensor(allowed))
    out.sum().backward()
    assert np.all(out.numpy()[1] == 0) and np.all(q.grad.numpy()[1] == 0)
    assert np.isfinite(k.grad.numpy()).all() and np.isfinite(v.grad.numpy()).all()


def test_sdpa_gradcheck_and_gradgradcheck():
    q, k, v = (leaf(randn(s, seed=i)) for i, s in enumerate([(2, 2, 3), (2, 3, 3), (2, 3, 2)]))
    allowed = bp.tensor(np.array([[True, False, True], [True, True, False]]))
    bias = leaf(randn((2, 3), seed=5))
    assert bp.gradcheck(lambda *x: sdpa(*x, attn_mask=allowed), q, k, v)
    assert bp.gradgradcheck(lambda *x: sdpa(*x, attn_mask=allowed), q, k, v)
    assert bp.gradcheck(lambda q, k, v, m: sdpa(q, k, v, attn_mask=m), q, k, v, bias)
    assert bp.gradgradcheck(lambda *x: sdpa(*x, is_causal=True, scale=0.3), q, k, v)


def test_sdpa_dropout_zeroes_weights_and_scales_the_rest():
    """With value = identity the output is the attention weights after dropout: a fraction
    about p is zero and the rest are the weights / (1 - p)."""
    q, k = bp.tensor(randn((64, 8), seed=1)), bp.tensor(randn((64, 8), seed=2))
    eye = bp.tensor(np.eye(64))
    bp.manual_seed(0)
    dropped = sdpa(q, k, eye, dropout_p=0.25).numpy()
    weights = sdpa(q, k, eye).numpy()
    zero = dropped == 0
    assert abs(zero.mean() - 0.25) < 0.03
    np.testing.assert_allclose(dropped[~zero], weights[~zero] / 0.75, rtol=1e-12)


def test_sdpa_dropout_p_one_gives_zeros_as_torch():
    arrays = [randn(s, seed=i) for i, s in enumerate([(3, 4), (5, 4), (5, 2)])]
    out = sdpa(*(bp.tensor(a) for a in arrays), dropout_p=1.0)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in arrays), dropout_p=1.0
    )
    assert_close(out.numpy(), expected.numpy())


def test_sdpa_dropout_gradients_with_a_fixed_mask():
    q, k, v = (leaf(randn(s, seed=i)) for i, s in enumerate([(3, 2), (4, 2), (4, 2)]))

    def attend(q, k, v):
        bp.manual_seed(3)  # the same dropout mask on every call
        return sdpa(q, k, v, dropout_p=0.4)

    assert bp.gradcheck(attend, q, k, v)


def test_sdpa_on_every_device(device):
    arrays = [randn(s, seed=i) for i, s in enumerate([(1, 2, 3), (1, 3, 3), (1, 3, 2)])]
    allowed = np.array([[True, False, True], [True, True, True]])
    inputs = [bp.tensor(a, device=device, requires_grad=True) for a in arrays]
    out = sdpa(*inputs, attn_mask=bp.tensor(allowed, device=device))
    out.sum().backward()
    reference = [torch.tensor(a, requires_grad=True) for a in arrays]
    expected = torch.nn.functional.scaled_dot_product_attention(
        *reference, attn_mask=torch.tensor(allowed)
    )
    expected.sum().backward()
    assert_close(out.numpy(), expected.detach().numpy())
    for mine, theirs in zip(inputs, reference):
        assert_close(mine.grad.numpy(), theirs.grad.numpy())


# -- MultiheadAttention ------------------------------------------------------------------------


def close(actual: bp.Tensor, expected, dtype: str, what: str) -> None:
    """Float64 within the helpers' tolerance; float32 also within 1e-5 of the largest
    magnitude, since the projections' sums cancel to values near 0 (the key bias's gradient is
    exactly 0 in exact arithmetic)."""
    expected = expected.detach().numpy()
    atol = 1e-5 * max(1.0, np.abs(expected).max()) if dtype == "float32" else None
    assert_close(actual.numpy(), expected, dtype, atol=atol, err_msg=what)


def check_mha(
    dtype: str = "float64",
    shapes=((3, 2, 4), (5, 2, 4), (5, 2, 4)),
    masks: dict | None = None,
    call: dict | None = None,
    **options,
) -> None:
    """Builds the layer with `options` in both frameworks, gives ours PyTorch's (randomised)
    weights, runs both on the same inputs and `masks` (host arrays) and compares the output,
    the attention weights, and the gradients of the inputs and of every parameter."""
    masks, call = masks or {}, call or {}
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(**options).double()
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(torch.randn_like(param).to(getattr(torch, dtype)).double())
    ours = nn.MultiheadAttention(**options).to(dtype=dtype)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    arrays = [randn(s, seed=i).astype(dtype) for i, s in enumerate(shapes)]
    mine = [leaf(a, dtype) for a in arrays]
    reference = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    out, weights = ours(*mine, **{k: constant(m, F, dtype) for k, m in masks.items()}, **call)
    expected, expected_weights = theirs(
        *reference, **{k: torch.tensor(m) for k, m in masks.items()}, **call
    )
    assert (weights is None) == (expected_weights is None)
    outputs = [out] if weights is None else [out, weights]
    expected_outputs = [expected] if weights is None else [expected, expected_weights]
    for what, actual, reference_output in zip(("output", "weights"), outputs, expected_outputs):
        close(actual, reference_output, dtype, what)
    projections = [randn(o.shape, seed=7 + i).astype(dtype) for i, o in enumerate(outputs)]
    sum((o * bp.tensor(p)).sum() for o, p in zip(outputs, projections)).backward()
    sum(
        (o * torch.tensor(p.astype(np.float64))).sum()
        for o, p in zip(expected_outputs, projections)
    ).backward()
    for name, a, b in zip(("query", "key", "value"), mine, reference):
        close(a.grad, b.grad, dtype, f"{name} grad")
    expected_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(expected_params)
    for name, param in ours.named_parameters():
        close(param.grad, expected_params[name].grad, dtype, f"{name}.grad")


def test_mha_matches_torch(dtype):
    check_mha(dtype, embed_dim=4, num_heads=2)


@pytest.mark.parametrize("average", [True, False], ids=["averaged", "per head"])
def test_mha_attention_weights_averaged_or_per_head(average):
    check_mha(embed_dim=4, num_heads=2, call={"average_attn_weights": average})


def test_mha_without_weights_takes_the_sdpa_path(dtype):
    shapes = ((3, 2, 6), (5, 2, 6), (5, 2, 6))
    check_mha(dtype, shapes, embed_dim=6, num_heads=3, call={"need_weights": False})


def test_mha_batch_first_and_without_bias():
    shapes = ((2, 3, 4), (2, 5, 4), (2, 5, 4))
    check_mha(shapes=shapes, embed_dim=4, num_heads=2, batch_first=True, bias=False)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched_inputs(need_weights):
    shapes = ((3, 4), (5, 4), (5, 4))
    allowed_not = np.zeros(5, dtype=bool)
    allowed_not[3] = True
    check_mha(
        shapes=shapes,
        masks={"key_padding_mask": allowed_not},
        call={"need_weights": need_weights},
        embed_dim=4,
        num_heads=2,
    )


def test_mha_kdim_and_vdim_use_separate_projections(dtype):
    shapes = ((3, 2, 4), (5, 2, 3), (5, 2, 6))
    check_mha(dtype, shapes=shapes, embed_dim=4, num_heads=2, kdim=3, vdim=6)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_mha_attn_mask_and_key_padding_mask(need_weights, kind):
    """In MultiheadAttention a True in a bool mask means 'may not attend', as in PyTorch."""
    blocked_pairs = randn((2 * 2, 3, 5), seed=20) > 0.8
    padding = np.zeros((2, 5), dtype=bool)
    padding[0, 4] = padding[1, 1] = True
    masks = {"attn_mask": blocked_pairs, "key_padding_mask": padding}
    if kind == "float":
        masks = {name: np.where(m, -math.inf, 0.0) - 0.3 * ~m for name, m in masks.items()}
    for picked in (["attn_mask"], ["key_padding_mask"], list(masks)):
        check_mha(
            masks={name: masks[name] for name in picked},
            call={"need_weights": need_weights},
            embed_dim=4,
            num_heads=2,
        )


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_is_causal_is_a_hint_that_needs_the_causal_mask(need_weights):
    causal_blocked = ~np.tril(np.ones((4, 4), dtype=bool))
    check_mha(
        shapes=((4, 2, 4),) * 3,
        masks={"attn_mask": causal_blocked},
        call={"need_weights": need_weights, "is_causal": True},
        embed_dim=4,
        num_heads=2,
    )


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize(
    "extra",
    [{"add_bias_kv": True}, {"add_zero_attn": True}, {"add_bias_kv": True, "add_zero_attn": True}],
    ids=["bias_kv", "zero_attn", "both"],
)
def test_mha_add_bias_kv_and_zero_attn_append_keys(dtype, extra, need_weights):
    """The extra key positions take part in attention whatever the masks say of the others."""
    padding = np.zeros((2, 5), dtype=bool)
    padding[1, 2:] = True
    check_mha(
        dtype,
        masks={"key_padding_mask": np.where(padding, -math.inf, 0.0), "attn_mask": randn((3, 5))},
        call={"need_weights": need_weights},
        embed_dim=4,
        num_heads=2,
        **extra,
    )


def test_mha_add_bias_kv_without_masks():
    check_mha(embed_dim=4, num_heads=2, add_bias_kv=True, add_zero_attn=True)


def test_mha_row_with_every_key_masked_as_torch():
    """NaN with need_weights (a plain softmax), the output projection's bias without (the
    safe softmax of scaled_dot_product_attention), as PyTorch 2.13 on the CPU."""
    padding = np.array([[True, True, True, True, True], [False] * 5])
    layer = nn.MultiheadAttention(4, 2).double()
    x, kv = bp.tensor(randn((3, 2, 4))), bp.tensor(randn((5, 2, 4), seed=1))
    with np.errstate(invalid="ignore"):  # NumPy warns of the -inf - -inf behind the NaN
        out, weights = layer(x, kv, kv, key_padding_mask=bp.tensor(padding))
    assert np.isnan(out.numpy()[:, 0]).all() and np.isnan(weights.numpy()[0]).all()
    out, _ = layer(x, kv, kv, key_padding_mask=bp.tensor(padding), need_weights=False)
    assert np.all(out.numpy()[:, 0] == 0) and np.isfinite(out.numpy()[:, 1]).all()


def test_mha_dropout_applies_in_training_only():
    layer = nn.MultiheadAttention(4, 2, dropout=1.0).double()
    x = bp.tensor(randn((3, 2, 4)))
    out, weights = layer(x, x, x)
    assert np.all(weights.numpy() == 0)
    np.testing.assert_array_equal(
        out.numpy(), np.broadcast_to(layer.out_proj.bias.numpy(), (3, 2, 4))
    )
    layer.eval()
    _, weights = layer(x, x, x)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0)


def test_mha_gradgradcheck():
    layer = nn.MultiheadAttention(2, 2, kdim=3).double()
    q, k, v = (leaf(randn(s, seed=i)) for i, s in enumerate([(2, 2), (3, 3), (3, 2)]))
    assert bp.gradgradcheck(lambda *x: layer(*x)[0], q, k, v)


@pytest.mark.parametrize(
    "options",
    [
        {"embed_dim": 6, "num_heads": 3},
        {"embed_dim": 6, "num_heads": 2, "kdim": 4, "vdim": 5},
        {"embed_dim": 4, "num_heads": 1, "bias": False},
        {"embed_dim": 4, "num_heads": 2, "add_bias_kv": True},
    ],
    ids=["packed", "separate", "no bias", "bias_kv"],
)
def test_mha_parameters_have_torch_names_shapes_and_init(options):
    ours, theirs = nn.MultiheadAttention(**options), torch.nn.MultiheadAttention(**options)
    expected = {name: tuple(t.shape) for name, t in theirs.state_dict().items()}
    assert {name: t.shape for name, t in ours.state_dict().items()} == expected
    assert list(ours.state_dict()) == list(theirs.state_dict())
    e = options["embed_dim"]
    for name, param in ours.named_parameters():
        values = param.numpy()
        if name.endswith("bias"):
            assert np.all(values == 0), name
        elif name == "out_proj.weight":
            assert np.abs(values).max() <= 1 / math.sqrt(e), name
        elif name in ("bias_k", "bias_v"):  # xavier_normal_: std sqrt(2 / (e + e))
            assert 0 < np.abs(values).max() < 5 / math.sqrt(e), name
        else:
            bound = math.sqrt(6 / sum(param.shape))
            assert np.abs(values).max() <= bound and np.abs(values).max() > bound / 2, name


# -- validation --------------------------------------------------------------------------------

q3, k5, v5 = (bp.tensor(randn(s, seed=i)) for i, s in enumerate([(3, 4), (5, 4), (5, 2)]))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: sdpa(q3, k5[:, :3], v5), ValueError, r"need the same E.*\(5, 3\)"),
        (lambda: sdpa(q3, k5, v5[:4]), ValueError, r"need the same S.*\(4, 2\)"),
        (lambda: sdpa(q3[0], k5, v5), ValueError, r"query must have at least 2 dim.*\(4,\)"),
        (lambda: sdpa(q3, k5, v5.float()), TypeError, "one dtype.*float32"),
        (
            lambda: sdpa(bp.tensor(randn((2, 3, 4))), bp.tensor(randn((3, 5, 4))), v5),
            ValueError,
            "batch axes.*cannot be broadcast",
        ),
        (lambda: sdpa(q3, k5, v5, dropout_p=1.5), ValueError, r"dropout_p must be in \[0, 1\]"),
        (
            lambda: sdpa(q3, k5, v5, attn_mask=bp.tensor(np.ones((3, 5), bool)), is_causal=True),
            ValueError,
            "is_causal=True builds its own mask",
        ),
        (
            lambda: sdpa(q3, k5, v5, attn_mask=bp.tensor(np.ones((3, 4), bool))),
            ValueError,
            r"attn_mask \(3, 4\) must broadcast.*\(3, 5\)",
        ),
        (
            lambda: sdpa(q3, k5, v5, attn_mask=bp.tensor(np.ones((3, 5), np.int64))),
            TypeError,
            "attn_mask must be bool or the query's dtype float64, got int64",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_sdpa_validation(call, error, match):
    with pytest.raises(error, match=f"scaled_dot_product_attention: .*{match}"):
        call()


x324 = bp.tensor(randn((3, 2, 4)))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: nn.MultiheadAttention(6, 4),
            r"embed_dim \(6\) must be divisible by num_heads \(4\)",
        ),
        (lambda: nn.MultiheadAttention(0, 1), "embed_dim must be a positive int, got 0"),
        (lambda: nn.MultiheadAttention(4, 2, kdim=0), "kdim must be a positive int, got 0"),
        (lambda: nn.MultiheadAttention(4, 2, dropout=-0.1), r"dropout must be in \[0, 1\]"),
    ],
)
def test_mha_constructor_validation(build, match):
    with pytest.raises(ValueError, match=f"MultiheadAttention: {match}"):
        build()


def mha(**options):
    return nn.MultiheadAttention(4, 2, **options).double()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: mha()(x324, x324, x324[0]), ValueError, r"all be 3-D .* or all 2-D"),
        (
            lambda: mha()(x324[..., :3], x324, x324),
            ValueError,
            r"query must have 4 features.*\(3, 2, 3\)",
        ),
        (lambda: mha(vdim=3)(x324, x324, x324), ValueError, r"value must have 3 features"),
        (lambda: mha()(x324, x324[:, :1], x324[:, :1]), ValueError, "the query's batch size"),
        (lambda: mha()(x324, x324, x324[:2]), ValueError, "one sequence length"),
        (
            lambda: mha()(x324, x324, x324, key_padding_mask=bp.tensor(np.ones((2, 4), bool))),
            ValueError,
            r"key_padding_mask must have shape \(N, S\) = \(2, 3\).*\(2, 4\)",
        ),
        (
            lambda: mha()(x324, x324, x324, attn_mask=bp.tensor(np.ones((2, 3, 3), bool))),
            ValueError,
            r"attn_mask must have shape \(L, S\) = \(3, 3\) or .* = \(4, 3, 3\)",
        ),
        (
            lambda: mha()(x324, x324, x324, attn_mask=bp.tensor(np.ones((3, 3), np.float32))),
            TypeError,
            "attn_mask must be bool or the query's dtype float64, got float32",
        ),
        (lambda: mha()(x324, x324, x324, is_causal=True), ValueError, "is_causal=True is a hint"),
    ],
)
def test_mha_forward_validation(call, error, match):
    with pytest.raises(error, match=f"MultiheadAttention: .*{match}"):
        call()


def test_mha_on_every_device(device):
    layer = nn.MultiheadAttention(2, 1).double()
    x = randn((2, 1, 2))
    results = []
    for where in ("cpu", device):
        layer.to(where)
        layer.zero_grad()
        mine = bp.tensor(x, device=where, requires_grad=True)
        out, weights = layer(mine, mine, mine)
        (out.sum() + (weights * weights).sum()).backward()
        results.append([out.numpy(), weights.numpy(), mine.grad.numpy()])
        results[-1] += [p.grad.numpy() for p in layer.parameters()]
    for on_device, on_cpu in zip(results[1], results[0]):
        assert_close(on_device, on_cpu)
