"""What higher-order support costs a first-order training step.

Times the small MLP step (784-256-256-10, batch 128, fused bias+ReLU, fused softmax
cross-entropy, SGD) on one device three ways, side by side in one run:

- fused: plain `loss.backward()`, the first-order path, where activations and the loss
  backpropagate through one fused backend kernel each;
- composite: the same step with the activations and the loss forced onto the backward made
  of differentiable ops (the one `create_graph=True` uses), but recording nothing: what the
  step would cost without the fused kernels;
- create_graph: `loss.backward(create_graph=True)`, which also records the backward graph.

PyTorch's eager CPU step on the same weights runs as a peer when it is installed. The modes
take turns step by step, in a rotating order, so that load from other processes and cache
effects hit them alike; the figure is the median time per step, and every mode ends on the
same loss. On a machine shared with other work, pin the BLAS threads or the spread swamps the
differences:

    OMP_NUM_THREADS=1 python bench/first_order_overhead.py --steps 100
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np

import backprop as bp
import backprop.functional as F

LAYERS = (784, 256, 256, 10)
BATCH = 128
LEARNING_RATE = 0.01


def problem(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """He-initialised float32 weights (out, in), zero biases, one batch and its labels."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(LAYERS, LAYERS[1:]):
        weight = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
        params += [weight.astype(np.float32), np.zeros(fan_out, np.float32)]
    inputs = rng.standard_normal((BATCH, LAYERS[0])).astype(np.float32)
    return params, inputs, rng.integers(0, LAYERS[-1], BATCH)


@contextlib.contextmanager
def composite_backward() -> Iterator[None]:
    """Makes the fused ops take their differentiable-op backward while grad mode stays off."""
    modules = [
        importlib.import_module(f"backprop.ops.{name}") for name in ("activation", "softmax")
    ]
    saved = [m.is_grad_enabled for m in modules]
    for module in modules:
        module.is_grad_enabled = lambda: True
    try:
        yield
    finally:
        for module, original in zip(modules, saved):
            module.is_grad_enabled = original


def our_step(device: str, create_graph: bool) -> Callable[[], float]:
    arrays, inputs, labels = problem()
    params = [bp.tensor(a, device=device, requires_grad=True) for a in arrays]
    x, y = bp.tensor(inputs, device=device), bp.tensor(labels, device=device)
    backend = x.backend

    def step() -> float:
        hidden = x
        for i in range(0, len(params) - 2, 2):
            hidden = F.linear(hidden, params[i], params[i + 1], activation="relu")
        loss = F.cross_entropy(F.linear(hidden, params[-2], params[-1]), y)
        loss.backward(create_graph=create_graph)
        for p in params:
            backend.sgd_update(p.data, p.grad.data, None, LEARNING_RATE)
            p.grad = None
        backend.synchronize()
        return loss.item()

    return step


def torch_step() -> Callable[[], float]:
    import torch

    arrays, inputs, labels = problem()
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    x, y = torch.tensor(inputs), torch.tensor(labels)
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE)

    def step() -> float:
        hidden = x
        for i in range(0, len(params) - 2, 2):
            hidden = torch.relu(torch.nn.functional.linear(hidden, params[i], params[i + 1]))
        logits = torch.nn.functional.linear(hidden, params[-2], params[-1])
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per mode")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per mode")
    args = parser.parse_args()

    modes: dict[str, tuple[Callable[[], float], Callable[[], contextlib.AbstractContextManager]]]
    modes = {
        "fused": (our_step(args.device, False), contextlib.nullcontext),
        "composite": (our_step(args.device, False), composite_backward),
        "create_graph": (our_step(args.device, True), contextlib.nullcontext),
    }
    try:
        modes["pytorch"] = (torch_step(), contextlib.nullcontext)
    except ImportError:
        print("PyTorch is not installed: no peer")

    times: dict[str, list[float]] = {name: [] for name in modes}
    losses: dict[str, float] = {}
    for step, context in modes.values():
        with context():
            for _ in range(args.warmup):
                step()
    names = list(modes)
    for i in range(args.steps):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            step, context = modes[name]
            with context():
                start = time.perf_counter()
                losses[name] = step()
                times[name].append(time.perf_counter() - start)

    fused = statistics.median(times["fused"])
    print(f"MLP {'-'.join(map(str, LAYERS))} batch {BATCH}, device {args.device}, SGD")
    print(f"{'mode':<14}{'ms/step':>10}{'vs fused':>10}{'last loss':>12}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<14}{median * 1e3:>10.3f}{median / fused:>10.2f}{losses[name]:>12.5f}")


if __name__ == "__main__":
    main()
