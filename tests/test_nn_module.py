"""Module: registration of parameters, buffers and sub-modules by attribute, walking the tree,
modes, gradients, state_dict round trips with strict loading, moving between devices and dtypes,
containers and the printed form. Forward pre-hooks and forward hooks run in order around
`forward` when the module is called (not when `forward` is), may replace its arguments or its
output, and stop running once removed."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop import nn


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 3)
        self.norm = nn.BatchNorm1d(3)
        self.out = nn.Linear(3, 2)
        self.scale = nn.Parameter(bp.ones(1))
        self.register_buffer("calls", bp.zeros(1))
        self.register_buffer("cache", bp.zeros(2), persistent=False)
        self.name = "plain attributes are not registered"

    def forward(self, x):
        return self.out(self.norm(self.hidden(x)).relu()) * self.scale


def test_parameter_is_a_leaf_tensor_that_requires_grad_and_shares_data():
    data = bp.randn(2, 3)
    param = nn.Parameter(data)
    assert isinstance(param, bp.Tensor) and param.is_leaf and param.requires_grad
    assert param.data is data.data
    assert not nn.Parameter(data, requires_grad=False).requires_grad
    assert repr(param).startswith("Parameter containing:\ntensor(")
    with pytest.raises(TypeError, match="Parameter: expected a Tensor, got list"):
        nn.Parameter([1.0, 2.0])


def test_attributes_register_parameters_buffers_and_modules_in_order():
    model = TwoLayer()
    assert [name for name, _ in model.named_parameters()] == [
        "scale",
        "hidden.weight",
        "hidden.bias",
        "norm.weight",
        "norm.bias",
        "out.weight",
        "out.bias",
    ]
    assert [name for name, _ in model.named_buffers()] == [
        "calls",
        "cache",
        "norm.running_mean",
        "norm.running_var",
        "norm.num_batches_tracked",
    ]
    assert [name for name, _ in model.named_children()] == ["hidden", "norm", "out"]
    assert list(model.children()) == [model.hidden, model.norm, model.out]
    assert [name for name, _ in model.named_modules()] == ["", "hidden", "norm", "out"]
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())
    assert [name for name, _ in model.named_parameters(recurse=False)] == ["scale"]


def test_a_parameter_shared_by_two_layers_is_listed_once():
    first, second = nn.Linear(3, 3), nn.Linear(3, 3)
    second.weight = first.weight
    model = nn.Sequential(first, second)
    assert len(list(model.parameters())) == 3


def test_reassigning_and_deleting_attributes_updates_the_registry():
    model = TwoLayer()
    model.out = nn.Identity()
    assert "out.weight" not in dict(model.named_parameters())
    del model.scale
    assert "scale" not in dict(model.named_parameters())
    with pytest.raises(AttributeError, match="'TwoLayer' object has no attribute 'scale'"):
        _ = model.scale
    model.hidden.bias = None
    assert "hidden.bias" not in model.state_dict()
    with pytest.raises(TypeError, match="cannot assign Tensor to parameter 'weight'"):
        model.hidden.weight = bp.zeros(3, 4)


def test_assigning_before_super_init_is_a_clear_error():
    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\)"):
        Forgetful()


def test_train_and_eval_set_the_mode_of_every_sub_module():
    model = TwoLayer()
    assert model.training and model.norm.training
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_call_runs_forward_and_backward_reaches_every_parameter(rng):
    model = TwoLayer()
    model(bp.tensor(rng.standard_normal((5, 4)), dtype="float32")).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_zero_grad_can_keep_zeroed_gradients():
    layer = nn.Linear(2, 2)
    layer(bp.ones(1, 2)).sum().backward()
    layer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(layer.weight.grad.numpy(), np.zeros((2, 2)))


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module: forward is not defined"):
        nn.Module()(bp.ones(1))


def test_state_dict_round_trip_restores_outputs(rng):
    source, target = TwoLayer(), TwoLayer()
    source(bp.tensor(rng.standard_normal((6, 4)), dtype="float32"))  # moves running stats
    state = source.state_dict()
    assert "cache" not in state and "norm.running_mean" in state
    result = target.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    source.eval()
    target.eval()
    x = bp.tensor(rng.standard_normal((3, 4)), dtype="float32")
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())


def test_load_state_dict_copies_in_place_keeping_parameter_identity():
    layer = nn.Linear(2, 2)
    weight = layer.weight
    layer.load_state_dict({"weight": np.eye(2), "bias": bp.tensor([1.0, 2.0])})
    assert layer.weight is weight and layer.weight.dtype == bp.float32
    np.testing.assert_array_equal(layer.weight.numpy(), np.eye(2))


def test_state_dict_values_are_detached():
    layer = nn.Linear(2, 2)
    assert not any(t.requires_grad for t in layer.state_dict().values())


def test_strict_loading_names_missing_and_unexpected_keys():
    model = TwoLayer()
    state = model.state_dict()
    del state["out.bias"]
    state["extra.weight"] = bp.zeros(1)
    with pytest.raises(
        RuntimeError, match=r"missing keys: out\.bias.*unexpected keys: extra\.weight"
    ):
        model.load_state_dict(state)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["out.bias"]
    assert result.unexpected_keys == ["extra.weight"]


def test_a_shape_mismatch_is_an_error_even_when_not_strict():
    layer = nn.Linear(3, 2)
    state = {"weight": bp.zeros(2, 4), "bias": bp.zeros(2)}
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: .* \(2, 4\), .* \(2, 3\)"):
        layer.load_state_dict(state, strict=False)


def test_to_dtype_converts_floats_in_place_and_keeps_integer_buffers():
    model = TwoLayer()
    params = list(model.parameters())
    model.double()
    assert list(model.parameters()) == params
    assert all(p.dtype == bp.float64 for p in params)
    assert model.norm.num_batches_tracked.dtype == bp.int64
    assert model.to("float32").hidden.weight.dtype == bp.float32
    with pytest.raises(TypeError, match="Module.to: dtype must be float32 or float64"):
        model.to(dtype="int64")


def test_to_device_moves_parameters_buffers_and_gradients_keeping_identity(device):
    layer = nn.Linear(3, 2)
    layer(bp.ones(1, 3)).sum().backward()
    weight = layer.weight
    layer.to(device)
    assert layer.weight is weight
    assert all(t.device == device for t in [*layer.parameters(), layer.weight.grad])
    out = layer(bp.ones(2, 3, device=device))
    assert out.device == device and out.shape == (2, 2)
    layer.cpu()
    assert layer.weight.device == bp.device("cpu")


def test_apply_and_requires_grad_reach_every_sub_module():
    model = TwoLayer()
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "Linear", "TwoLayer"]
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_sequential_chains_indexes_and_slices():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert len(model) == 3 and isinstance(model[-1], nn.Linear)
    assert [type(m) for m in model[:2]] == [nn.Linear, nn.ReLU]
    x = bp.randn(5, 4)
    np.testing.assert_allclose(model(x).numpy(), model[2](model[1](model[0](x))).numpy())
    model.append(nn.Tanh())
    assert [name for name, _ in model.named_children()] == ["0", "1", "2", "3"]
    with pytest.raises(IndexError, match="Sequential: index 4 is out of range for 4 modules"):
        model[4]
    with pytest.raises(TypeError, match="Sequential: expected a Module, got function"):
        nn.Sequential(lambda x: x)


def test_sequential_from_a_dict_uses_its_names():
    model = nn.Sequential({"fc": nn.Linear(2, 2), "act": nn.ReLU()})
    assert list(model.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list_registers_its_modules():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    model = Stack()
    assert len(list(model.parameters())) == 6
    assert list(model.state_dict())[:2] == ["layers.0.weight", "layers.0.bias"]
    model.layers[1] = nn.Identity()
    assert len(list(model.parameters())) == 4 and len(model.layers[1:]) == 2
    assert model(bp.ones(1, 2)).shape == (1, 2)


def test_module_dict_registers_its_modules_under_their_keys():
    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"digit": nn.Linear(2, 10), "parity": nn.Linear(2, 2)})

        def forward(self, x):
            return {name: head(x) for name, head in self.heads.items()}

    model = Heads()
    assert list(model.state_dict()) == [
        "heads.digit.weight",
        "heads.digit.bias",
        "heads.parity.weight",
        "heads.parity.bias",
    ]
    assert {k: v.shape for k, v in model(bp.ones(3, 2)).items()} == {
        "digit": (3, 10),
        "parity": (3, 2),
    }
    model.heads.update([("sign", nn.Linear(2, 1))])
    assert list(model.heads) == ["digit", "parity", "sign"] and "sign" in model.heads
    assert isinstance(model.heads.pop("digit"), nn.Linear) and len(model.heads) == 2
    del model.heads["sign"]
    assert model.heads.keys() == ["parity"] and len(list(model.parameters())) == 2


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (lambda d: d["missing"], KeyError, r"ModuleDict: no module 'missing'; keys: \['fc'\]"),
        (lambda d: d.update({"a.b": nn.ReLU()}), KeyError, "keys must be non-empty strings"),
        (lambda d: d.update({"act": "relu"}), TypeError, "ModuleDict: expected a Module, got str"),
    ],
)
def test_module_dict_errors_name_the_key_or_value(action, error, message):
    with pytest.raises(error, match=message):
        action(nn.ModuleDict({"fc": nn.Linear(2, 2)}))


def test_repr_is_an_indented_tree_like_pytorch():
    model = nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        ")"
    )


def test_an_attribute_can_change_from_plain_value_to_parameter_and_back():
    class Switch(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = None
            self.gate = nn.Parameter(bp.ones(1))

    model = Switch()
    assert isinstance(model.gate, nn.Parameter) and len(list(model.parameters())) == 1
    del model.gate
    model.gate = 2.0
    assert model.gate == 2.0 and list(model.parameters()) == []
    with pytest.raises(AttributeError, match="'Switch' object has no attribute 'missing'"):
        del model.missing


# -- forward hooks ---------------------------------------------------------------------------------


class AddOne(nn.Module):
    """forward(x, scale=1) is (x + 1) * scale, and records each call's arguments."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x, scale=1):
        self.calls.append((x, scale))
        return (x + 1) * scale


def test_forward_hooks_run_around_forward_in_the_order_registered():
    module, events = AddOne(), []
    module.register_forward_pre_hook(lambda m, args: events.append(("pre 1", m, args)))
    module.register_forward_pre_hook(lambda m, args: events.append(("pre 2", m, args)))
    module.register_forward_hook(lambda m, args, out: events.append(("post 1", m, args, out)))
    module.register_forward_hook(lambda m, args, out: events.append(("post 2", m, args, out)))
    assert module(2, scale=10) == 30
    assert events == [
        ("pre 1", module, (2,)),
        ("pre 2", module, (2,)),
        ("post 1", module, (2,), 30),
        ("post 2", module, (2,), 30),
    ]
    assert module.calls == [(2, 10)]


def test_a_pre_hook_can_replace_the_arguments_and_the_next_hooks_see_them():
    module, seen = AddOne(), []
    module.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    module.register_forward_pre_hook(lambda m, args: args[0] + 5)  # a non-tuple is one argument
    module.register_forward_hook(lambda m, args, out: seen.append(args))
    assert module(1, scale=2) == 16
    assert module.calls == [(7, 2)] and seen == [(7,)]


def test_a_forward_hook_can_replace_the_output_and_the_next_hooks_see_it():
    module = AddOne()
    module.register_forward_hook(lambda m, args, out: out * 100)
    module.register_forward_hook(lambda m, args, out: None)  # None keeps the output
    module.register_forward_hook(lambda m, args, out: out + 0.5)
    assert module(1) == 200.5


def test_removed_hooks_no_longer_run():
    module, events = AddOne(), []
    pre = module.register_forward_pre_hook(lambda m, args: events.append("pre"))
    post = module.register_forward_hook(lambda m, args, out: events.append("post"))
    kept = module.register_forward_hook(lambda m, args, out: events.append("kept"))
    pre.remove()
    post.remove()
    post.remove()  # removing twice is harmless
    module(0)
    assert events == ["kept"]
    kept.remove()
    module(0)
    assert events == ["kept"]


def test_hooks_do_not_run_when_forward_is_called_directly():
    module, events = AddOne(), []
    module.register_forward_pre_hook(lambda m, args: events.append("pre"))
    module.register_forward_hook(lambda m, args, out: events.append("post"))
    assert module.forward(1) == 2
    assert events == []


def test_a_forward_hook_on_a_layer_sees_its_activations_inside_a_model(rng):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    activations = {}
    model[1].register_forward_hook(lambda m, args, out: activations.update(relu=out))
    x = bp.tensor(rng.standard_normal((5, 4)), dtype="float32")
    output = model(x)
    np.testing.assert_allclose(
        activations["relu"].numpy(), np.maximum(model[0](x).numpy(), 0), rtol=1e-6
    )
    np.testing.assert_allclose(output.numpy(), model[2](activations["relu"]).numpy(), rtol=1e-6)


def test_a_hook_replacing_the_output_stays_differentiable():
    layer = nn.Linear(2, 1)
    layer.register_forward_hook(lambda m, args, out: out * 3)
    layer(bp.ones(1, 2)).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), [[3.0, 3.0]])


@pytest.mark.parametrize("method", ["register_forward_pre_hook", "register_forward_hook"])
def test_a_hook_must_be_callable(method):
    with pytest.raises(TypeError, match=f"Module.{method}: hook must be callable, got str"):
        getattr(AddOne(), method)("print")


def test_a_full_backward_hook_sees_none_for_an_output_without_gradient_as_in_torch():
    class Two(nn.Module):
        def forward(self, a):
            return a * 2, a * 3

    module, seen = Two(), []
    module.register_full_backward_hook(lambda m, grad_in, grad_out: seen.append(grad_out))
    first, _ = module(bp.ones(2, requires_grad=True))
    first.sum().backward()
    [(used, unused)] = seen
    assert used.tolist() == [1.0, 1.0] and unused is None
