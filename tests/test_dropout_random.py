"""Dropout's random numbers: a Philox4x32-10 generator whose seed and offset live on the device.

The NumPy reference and the Numba kernel reproduce the generator's published known answers (the
CUDA C twin is checked in tests/test_cuda_kernels.py); every backend draws the same mask after
the same seed; each call draws a new one by advancing the offset in device memory, which is what
lets a captured CUDA graph draw a new mask at every replay.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import PHILOX_KNOWN_ANSWERS
from rehearsal import HostTransfer, floats, labels, rehearse

import backprop as bp
import backprop.nn.functional as F
from backprop import nn, optim
from backprop.backend import philox
from backprop.random import dropout_state


@pytest.mark.parametrize(("counter", "key", "expected"), PHILOX_KNOWN_ANSWERS)
def test_the_numpy_reference_gives_philox_known_answers(counter, key, expected):
    words = philox.philox4x32_10(
        np,
        tuple(np.array([c], np.uint32) for c in counter),
        tuple(np.array([k], np.uint32) for k in key),
    )
    assert tuple(int(w[0]) for w in words) == expected


@pytest.mark.parametrize(("counter", "key", "expected"), PHILOX_KNOWN_ANSWERS)
def test_the_numba_kernel_gives_philox_known_answers(counter, key, expected):
    numba = pytest.importorskip("numba")
    from backprop.kernels.numba_random import _philox4x32_10

    words = _philox4x32_10(*(numba.uint32(v) for v in (*counter, *key)))
    assert tuple(int(w) for w in words) == expected


def test_element_i_is_word_i_mod_4_of_the_block_at_counter_i_div_4_and_the_offset():
    seed, offset = 0x0123456789ABCDEF, 2**33 + 5
    state = np.array([seed, offset], np.uint64)
    keep = philox.dropout_mask(np, 10, 2**31, state)
    for i in range(10):
        block = i // 4
        counter = (block, 0, offset & 0xFFFFFFFF, offset >> 32)
        words = philox.philox4x32_10(
            np,
            tuple(np.array([c], np.uint32) for c in counter),
            (np.array([seed & 0xFFFFFFFF], np.uint32), np.array([seed >> 32], np.uint32)),
        )
        assert keep[i] == (int(words[i % 4][0]) >= 2**31)


@pytest.mark.parametrize(("p", "threshold"), [(0.5, 2**31), (0.25, 2**30), (1e-12, 0)])
def test_the_threshold_is_p_in_32_bit_words(p, threshold):
    assert philox.dropout_threshold(p) == threshold


def test_a_p_just_below_one_keeps_only_the_largest_word():
    assert philox.dropout_threshold(1 - 1e-12) == 2**32 - 1


def test_masks_keep_a_fraction_1_minus_p_and_each_call_draws_a_new_one():
    bp.manual_seed(0)
    x = bp.ones(200_000, dtype="float64")
    first, second = (F.dropout(x, 0.3).numpy() != 0 for _ in range(2))
    spread = 5 * np.sqrt(0.3 * 0.7 / x.numel())  # five standard deviations of the fraction
    for mask in (first, second):
        assert abs(mask.mean() - 0.7) < spread
    assert abs((first & second).mean() - 0.49) < spread  # independent masks overlap by 0.7^2
    assert abs((first[:-1] & first[1:]).mean() - 0.49) < spread  # neighbours are independent


def test_dropout_scales_the_kept_elements_and_their_gradient_by_1_over_1_minus_p(rng):
    x = bp.tensor(rng.normal(size=(6, 7)), requires_grad=True)
    y = F.dropout(x, 0.4)
    y.backward(bp.ones_like(y))
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / 0.6, rtol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.6, rtol=1e-15)


def test_manual_seed_restarts_the_masks_and_keeps_the_states_memory():
    x = bp.ones(64)
    bp.manual_seed(5)
    state = dropout_state(x.device)
    first = [F.dropout(x, 0.5).numpy() for _ in range(3)]
    bp.manual_seed(5)
    assert dropout_state(x.device) is state  # a captured graph keeps reading this array
    np.testing.assert_array_equal([F.dropout(x, 0.5).numpy() for _ in range(3)], first)


def test_drawing_weights_does_not_move_the_masks():
    """Dropout's seed comes from `manual_seed`, not from the weights generator's position."""
    bp.manual_seed(2)
    plain = F.dropout(bp.ones(32), 0.5).numpy()
    bp.manual_seed(2)
    bp.randn(100)
    np.testing.assert_array_equal(F.dropout(bp.ones(32), 0.5).numpy(), plain)


def test_a_generator_seeded_as_the_global_seed_draws_the_same_first_mask():
    bp.manual_seed(9)
    expected = F.dropout(bp.ones(40), 0.5).numpy()
    generator = np.random.default_rng(9)
    np.testing.assert_array_equal(
        F.dropout(bp.ones(40), 0.5, generator=generator).numpy(), expected
    )
    assert not np.array_equal(F.dropout(bp.ones(40), 0.5, generator=generator).numpy(), expected)


def test_every_device_draws_the_cpus_masks_and_advances_its_own_offset(device):
    x = bp.ones(3, 5, dtype="float64")
    masks = {}
    for where in (bp.device("cpu"), device):
        bp.manual_seed(4)
        masks[where] = [F.dropout(x.to(where), 0.5).numpy() for _ in range(2)]
        assert where.backend.to_host(dropout_state(where))[1] == 2
    np.testing.assert_array_equal(masks[device], masks[bp.device("cpu")])
    assert not np.array_equal(*masks[device])


def test_every_dropout_variant_matches_the_cpu_on_every_device(device):
    def draws(where):
        bp.manual_seed(6)
        x = bp.ones(2, 3, 4, dtype="float64").to(where)
        return [F.dropout1d(x, 0.5), F.dropout2d(x[None], 0.5), F.alpha_dropout(x, 0.5)]

    for got, expected in zip(draws(device), draws(bp.device("cpu"))):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-15)


def test_an_empty_tensor_draws_an_empty_mask_and_still_advances():
    bp.manual_seed(0)
    state = dropout_state(bp.device("cpu"))
    assert F.dropout(bp.ones(0, 3), 0.5).shape == (0, 3)
    assert state[1] == 1


def test_a_step_with_dropout_is_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 2))
    x, y = floats(rng, 5, 4), labels(rng, 5, 2)
    rehearse(monkeypatch, model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, x, y)


def test_a_step_with_every_dropout_layer_and_attention_dropout_is_capturable(monkeypatch, rng):
    class Dropouts(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = nn.MultiheadAttention(4, 2, dropout=0.3, batch_first=True)
            self.drops = nn.ModuleList([nn.Dropout1d(0.2), nn.AlphaDropout(0.2)])
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            x = self.attention(x, x, x, need_weights=False)[0]
            for drop in self.drops:
                x = drop(x)
            return self.head(F.dropout2d(x[:, None], 0.2)[:, 0].mean(axis=1))

    bp.manual_seed(0)
    model = Dropouts()
    x, y = floats(rng, 3, 5, 4), labels(rng, 3, 2)
    rehearse(monkeypatch, model, optim.Adam(model.parameters()), F.cross_entropy, x, y)


def test_a_generator_inside_a_step_copies_its_seed_from_the_host(monkeypatch, rng):
    """An explicit generator is drawn on the host, once per call: a captured graph would repeat
    that seed, so the rehearsal refuses it."""
    generator = np.random.default_rng(0)
    model = nn.Linear(4, 2)

    def loss_fn(out, y):
        return F.cross_entropy(F.dropout(out, 0.5, generator=generator), y)

    x, y = floats(rng, 5, 4), labels(rng, 5, 2)
    with pytest.raises(HostTransfer, match="from_host during the capture"):
        rehearse(monkeypatch, model, optim.SGD(model.parameters(), lr=0.1), loss_fn, x, y)


@pytest.mark.parametrize(
    ("seed", "error", "match"),
    [
        (1.5, TypeError, "manual_seed: expected an integer, got float"),
        (True, TypeError, "manual_seed: expected an integer, got bool"),
        (2**64, ValueError, r"manual_seed: expected a seed in \[-2\*\*63, 2\*\*64\), got"),
        (-(2**63) - 1, ValueError, "manual_seed: expected a seed in"),
    ],
)
def test_manual_seed_takes_torchs_range_of_integers(seed, error, match):
    with pytest.raises(error, match=match):
        bp.manual_seed(seed)


def test_a_negative_seed_maps_as_torch_maps_it():
    bp.manual_seed(-1)
    negative = bp.randn(3).numpy()
    bp.manual_seed(2**64 - 2)
    np.testing.assert_array_equal(bp.randn(3).numpy(), negative)


# -- the state as a whole: get_rng_state, set_rng_state, initial_seed ---------------------------


def draw_weights_and_masks(device: bp.Device) -> list[np.ndarray]:
    x = bp.ones(2, 6, dtype="float64").to(device)
    return [bp.randn(4).numpy(), F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()]


def test_a_restored_rng_state_repeats_the_next_weights_and_masks(device):
    bp.manual_seed(3)
    draw_weights_and_masks(device)
    state = bp.get_rng_state()
    expected = draw_weights_and_masks(device)
    draw_weights_and_masks(device)
    bp.set_rng_state(state)
    for got, want in zip(draw_weights_and_masks(device), expected):
        np.testing.assert_array_equal(got, want)


def test_the_rng_state_goes_through_a_checkpoint_file(tmp_path):
    bp.manual_seed(8)
    F.dropout(bp.ones(5), 0.5)
    bp.save({"rng": bp.get_rng_state()}, tmp_path / "checkpoint.bp")
    expected = draw_weights_and_masks(bp.device("cpu"))
    bp.manual_seed(0)
    bp.set_rng_state(bp.load(tmp_path / "checkpoint.bp")["rng"])
    for got, want in zip(draw_weights_and_masks(bp.device("cpu")), expected):
        np.testing.assert_array_equal(got, want)
    assert bp.initial_seed() == 8


def test_set_rng_state_writes_a_dropout_state_in_place():
    bp.manual_seed(1)
    state = dropout_state(bp.device("cpu"))
    saved = bp.get_rng_state()
    F.dropout(bp.ones(3), 0.5)
    bp.set_rng_state(saved)
    assert dropout_state(bp.device("cpu")) is state and state[1] == saved["dropout"][0][3]


@pytest.mark.parametrize(
    ("state", "match"),
    [
        ([1, 2], r"set_rng_state: expected the dict get_rng_state returns, .* got list"),
        ({"seed": 0}, r"with keys \['dropout', 'generator', 'seed'\], got \['seed'\]"),
        ({"seed": 0, "generator": {"bit_generator": "MT19937"}, "dropout": []}, "not a generator"),
    ],
)
def test_set_rng_state_takes_only_what_get_rng_state_returns(state, match):
    with pytest.raises(ValueError, match=match):
        bp.set_rng_state(state)


def test_initial_seed_is_the_last_manual_seed():
    bp.manual_seed(123)
    assert bp.initial_seed() == 123
