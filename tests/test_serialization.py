"""Checkpoints: `save` / `load` round-trip model and optimizer state (nested dicts, lists and
tuples of tensors, numbers, strings and None) across devices, in a format that loads no code,
and refuse files that are not backprop checkpoints with a clear error."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from backprop.serialization import load, save


def small_model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_model_state_round_trips_exactly(tmp_path):
    source = small_model()
    source(bp.randn(5, 3))  # gives the BatchNorm running statistics non-default values
    save(source.state_dict(), tmp_path / "model.ckpt")
    loaded = load(tmp_path / "model.ckpt")
    assert list(loaded) == list(source.state_dict())
    for key, value in source.state_dict().items():
        assert loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())
    target = small_model()
    target.load_state_dict(loaded)
    x = bp.randn(2, 3)
    np.testing.assert_array_equal(target.eval()(x).numpy(), source.eval()(x).numpy())


def test_optimizer_like_state_keeps_its_structure_and_types(tmp_path):
    state = {
        "state": {0: {"step": 3, "exp_avg": bp.randn(2, 2)}, 1: {"step": 3, "buf": None}},
        "param_groups": [
            {"lr": 1e-3, "betas": (0.9, 0.999), "amsgrad": False, "params": [0, 1], "eps": 1e-8}
        ],
        "note": "epoch 7",
        "best": float("inf"),
        "history": np.array([0.5, 0.25]),
        "counts": bp.tensor([1, 2], dtype="int64"),
    }
    save(state, tmp_path / "optimizer.ckpt")
    loaded = load(tmp_path / "optimizer.ckpt")
    assert loaded["param_groups"] == state["param_groups"]
    assert isinstance(loaded["param_groups"][0]["betas"], tuple)
    assert list(loaded["state"]) == [0, 1] and loaded["state"][1] == {"step": 3, "buf": None}
    np.testing.assert_array_equal(
        loaded["state"][0]["exp_avg"].numpy(), state["state"][0]["exp_avg"].numpy()
    )
    assert loaded["note"] == "epoch 7" and loaded["best"] == float("inf")
    assert isinstance(loaded["history"], np.ndarray)
    assert loaded["counts"].dtype == bp.int64


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def train(model: nn.Module, optimizer, steps: int, device) -> None:
    x = bp.tensor(np.linspace(-1, 1, 15).reshape(5, 3), dtype="float32", device=device)
    labels = bp.tensor([0, 1, 1, 0, 1], device=device)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), labels).backward()
        optimizer.step()


def test_training_resumes_identically_from_a_model_and_optimizer_checkpoint(tmp_path, device):
    bp.manual_seed(0)
    model = mlp()
    optimizer = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    train(model, optimizer, 2, "cpu")
    save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "run.ckpt")
    train(model, optimizer, 1, "cpu")

    checkpoint = load(tmp_path / "run.ckpt", device=device)
    resumed = mlp().to(device)
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer = optim.Adam(resumed.parameters())
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    assert resumed_optimizer.param_groups[0]["lr"] == 0.01
    train(resumed, resumed_optimizer, 1, device)
    for (name, expected), actual in zip(model.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_allclose(
            actual.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5, err_msg=name
        )


def test_a_tensor_saved_twice_loads_as_one_tensor(tmp_path):
    shared = bp.randn(3)
    save({"a": shared, "b": [shared]}, tmp_path / "shared.ckpt")
    loaded = load(tmp_path / "shared.ckpt")
    assert loaded["a"] is loaded["b"][0]


def test_requires_grad_is_kept(tmp_path):
    save([bp.ones(2, requires_grad=True), bp.ones(2)], tmp_path / "flags.ckpt")
    first, second = load(tmp_path / "flags.ckpt")
    assert first.requires_grad and not second.requires_grad


def test_load_places_every_tensor_on_the_asked_device(tmp_path, device):
    model = small_model().to(device)
    save(model.state_dict(), tmp_path / "model.ckpt")
    on_cpu = load(tmp_path / "model.ckpt", device="cpu")
    assert all(t.device == bp.device("cpu") for t in on_cpu.values())
    on_device = load(tmp_path / "model.ckpt", device=device)
    assert all(t.device == device for t in on_device.values())
    fresh = small_model().to(device)
    fresh.load_state_dict(on_cpu)
    np.testing.assert_array_equal(fresh[0].weight.numpy(), model[0].weight.numpy())


def test_save_and_load_work_with_file_objects():
    buffer = io.BytesIO()
    save({"w": bp.ones(2)}, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(load(buffer)["w"].numpy(), np.ones(2))


def test_the_file_is_an_npz_archive_of_arrays_and_a_json_index(tmp_path):
    path = tmp_path / "model.ckpt"
    save({"weight": bp.ones(2)}, path)
    assert path.exists() and not (tmp_path / "model.ckpt.npz").exists()
    with np.load(path, allow_pickle=False) as archive:
        index = json.loads(archive["__backprop_index__"].tobytes())
    assert index["format"] == "backprop-checkpoint"


def test_unsupported_objects_are_refused_naming_where_they_are(tmp_path):
    with pytest.raises(TypeError, match=r"save: cannot save a function \(at obj\['fn'\]\)"):
        save({"fn": lambda: None}, tmp_path / "bad.ckpt")
    with pytest.raises(TypeError, match="dict keys must be strings, numbers or None"):
        save({(1, 2): 3}, tmp_path / "bad.ckpt")


def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="load: no checkpoint file at"):
        load(tmp_path / "absent.ckpt")


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="is not a backprop checkpoint .it is not an .npz archive"):
        load(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, weights=np.ones(3))
    with pytest.raises(ValueError, match="an .npz archive without a backprop index"):
        load(plain)


def test_pickled_content_is_never_loaded(tmp_path):
    index = {"format": "backprop-checkpoint", "version": 1, "root": {"type": "ndarray", "key": "a"}}
    path = tmp_path / "pickled.npz"
    np.savez(
        path,
        __backprop_index__=np.frombuffer(json.dumps(index).encode(), dtype=np.uint8),
        a=np.array([{"code": 1}], dtype=object),
    )
    with pytest.raises(ValueError, match="is not a backprop checkpoint .Object arrays cannot"):
        load(path)
