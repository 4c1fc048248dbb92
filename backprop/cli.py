"""The `backprop` command: `info` (what this machine can run), `bench` (time a training step on
every backend, next to PyTorch and JAX) and `train` (fit a small model on handwritten digits).

Bad arguments and requests this machine cannot serve print one line to stderr and exit with
status 2; nothing the user typed ends in a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import backprop as bp
from backprop import backend as registry
from backprop import distributed, environment, training
from backprop.backend.precision import (
    FLOAT32_MATMUL_PRECISIONS,
    get_float32_matmul_precision,
    set_float32_matmul_precision,
)
from backprop.benchmark.distributed import distributed_table, run_distributed
from backprop.benchmark.mlp import GRAPH_WARMUP, OPTIMIZERS, SIZES, MLPConfig
from backprop.benchmark.peers import GRAPHED_PEER_STEPS, PEERS
from backprop.benchmark.peers import unavailable_reason as peer_reason
from backprop.benchmark.plot import plot_batch_sweep
from backprop.benchmark.primitives import OPS_PER_BACKEND, run_ops_suite
from backprop.benchmark.report import MLP_LEGEND, crossovers, mlp_table, ops_table
from backprop.benchmark.runner import Target, run_mlp
from backprop.data import DataLoader, DistributedSampler
from backprop.diagnostics import GradientRecorder
from backprop.nn.parallel import DistributedDataParallel
from backprop.progress import Progress
from backprop.serialization import save

USAGE_ERROR = 2
INTERRUPTED = 130
"""The shell's status for a command stopped by Ctrl-C (128 + SIGINT)."""


class UsageError(Exception):
    """A request this machine cannot serve, or arguments that do not fit together."""


def _one_line(text: str) -> str:
    """`text` with every run of whitespace, newlines included, as one space (driver errors
    span several lines)."""
    return " ".join(str(text).split())


# -- argument types ------------------------------------------------------------------------------


def _integer_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    """Positive integers separated by commas: "784,1024,10" gives (784, 1024, 10)."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas (e.g. 784,1024,10), got {text!r}"
        )
    return tuple(int(part) for part in parts)


def _choice_list(choices: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(name.strip() for name in text.split(",") if name.strip())
        unknown = [name for name in names if name not in choices]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(choices)}, got {text!r}"
            )
        return names

    return parse


def _backend_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    known = registry.registered()
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected backend names separated by commas, got {text!r}"
        )
    for name in names:
        if name not in known:
            raise argparse.ArgumentTypeError(
                f"unknown backend {name!r}; known backends: {', '.join(known)}"
            )
    return names


# -- info ----------------------------------------------------------------------------------------


def _format_device(device: dict[str, Any]) -> str:
    parts = [str(device.get("name", "unnamed device"))]
    if device.get("total_memory"):
        parts.append(f"{device['total_memory'] / 2**30:.1f} GiB")
    if device.get("compute_capability"):
        major, minor = device["compute_capability"]
        parts.append(f"compute capability {major}.{minor}")
    return ", ".join(parts)


NO_GPU = "none visible: no GPU backend can run (see below); the CPU backend still works"


def run_info(args: argparse.Namespace) -> int:
    """Prints versions, CPU, BLAS and every backend with its device or why it cannot run."""
    description = environment.describe()
    if args.json:
        print(json.dumps(description, indent=2))
        return 0
    versions = description["versions"]
    blas = description["blas"]
    threads = f", {blas['threads']} threads" if blas["threads"] else ""
    print(
        f"backprop {versions['backprop']}  (Python {versions['python']}, {description['platform']})"
    )
    print(f"CPU      {description['cpu']}, {description['cores']} cores")
    print(f"BLAS     {blas['name']} {blas['version']}{threads}")
    gpus = ", ".join(description["gpus"]) or NO_GPU
    print(f"GPU      {gpus}")
    print("\npackages")
    for name in environment.PACKAGES:
        print(f"  {name:<13}{versions[name] or 'not installed'}")
    print("\nbackends")
    width = max(len(row["name"]) for row in description["backends"])
    for row in description["backends"]:
        if row["available"]:
            status = "available"
            if row["device"]:
                status += ": " + _format_device(row["device"])
        else:
            status = f"unavailable: {_one_line(row['reason'])}"
        print(f"  {row['name']:<{width}}  {row['device_type']:<4}  {status}")
    return 0


# -- bench ---------------------------------------------------------------------------------------


def _chosen_backends(requested: tuple[str, ...] | None) -> list[str]:
    """The backends named, each checked to run here; by default every one that runs here on a
    real device (a simulated GPU is timed only when named)."""
    if requested is None:
        return [name for name in registry.available() if not _simulated(name)]
    for name in requested:
        reason = registry.unavailable_reason(name)
        if reason is not None:
            raise UsageError(f"backend {name!r} cannot run here: {reason}")
    return list(dict.fromkeys(requested))


def _simulated(name: str) -> bool:
    return registry.get_backend(name).simulated


PLOT_BATCHES = (32, 128, 512, 2048)
"""The batch sweep of `--plot` when `--batches` does not give one."""

CUSTOM_BATCH = 128
"""The batch of a `--layers` MLP when neither `--batch` nor `--batches` is given."""


def _mlp_configs(args: argparse.Namespace, has_gpu: bool) -> list[tuple[str, MLPConfig]]:
    """(size name, MLPConfig) pairs: the standard sizes asked for (by default small and
    medium, and large where a GPU runs) and the custom `--layers`, each at `--batch` or at
    every batch of the sweep."""
    if args.layers is not None and len(args.layers) < 2:
        raise UsageError(
            f"--layers needs at least an input and an output width, got {args.layers[0]}"
        )
    default_sizes = ("small", "medium", "large") if has_gpu else ("small", "medium")
    sizes = args.size or (() if args.layers is not None else default_sizes)
    if "all" in sizes:
        sizes = tuple(SIZES)
    shapes = [(size, SIZES[size].layers, SIZES[size].batch) for size in dict.fromkeys(sizes)]
    if args.layers is not None:
        shapes.append(("custom", args.layers, CUSTOM_BATCH))
    sweep = args.batches or (PLOT_BATCHES if args.plot else None)
    return [
        (size, MLPConfig(layers, batch))
        for size, layers, default in shapes
        for batch in (sweep or (args.batch or default,))
    ]


def run_bench(args: argparse.Namespace) -> int:
    """Times the MLP training step (or the ops suite), then prints, saves and plots it."""
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise UsageError("--plot needs matplotlib, which is not installed (pip install matplotlib)")
    backends = _chosen_backends(args.backend)
    if args.distributed:
        _join_process_group()
    machine = environment.describe()
    gpus = ", ".join(machine["gpus"]) or "none usable"
    if not args.distributed or distributed.get_rank() == 0:
        print(f"machine: {machine['cpu']} ({machine['cores']} cores); GPU: {gpus}")
    notes = []
    if args.backend is None:
        notes += [
            f"{name}: not run: {_one_line(registry.unavailable_reason(name))}"
            for name in registry.registered()
            if registry.unavailable_reason(name) is not None
        ]
        notes += [
            f"{name}: not run: it runs in a GPU simulator on the CPU (NUMBA_ENABLE_CUDASIM), far "
            f"too slowly to time; name it with --backend {name} to time it anyway"
            for name in registry.available()
            if _simulated(name)
        ]
    if args.precision != "highest" and "cuda" not in map(registry.device_type_of, backends):
        notes.append(f"--precision {args.precision} only changes GPU matmuls; no GPU runs here")
    previous = get_float32_matmul_precision()
    set_float32_matmul_precision(args.precision)
    try:
        if args.distributed:
            return _bench_distributed(args, backends, machine, notes)
        if args.suite == "ops":
            return _bench_ops(args, backends, machine, notes)
        return _bench_mlp(args, backends, machine, notes)
    finally:
        set_float32_matmul_precision(previous)


def _bench_ops(
    args: argparse.Namespace, backends: list[str], machine: dict[str, Any], notes: list[str]
) -> int:
    for note in notes:
        print(note)
    results = []
    total = len(backends) * OPS_PER_BACKEND * (args.warmup + args.steps * args.repeats)
    with Progress(total, enabled=False if args.quiet else None) as progress:
        for name in backends:
            progress.update(0, description=f"{name} ops")
            results += run_ops_suite(
                name, args.dtype, args.steps, args.warmup, args.repeats, progress.update
            )
    print(ops_table(results))
    _write_json(args, machine, notes, [r.to_dict() for r in results])
    return 0


def _mlp_jobs(
    args: argparse.Namespace, backends: list[str], notes: list[str]
) -> list[tuple[MLPConfig, Target]]:
    """Every (config, target) pair to time: the backends, then the peers on the same device
    types; the large config runs on the CPU only when asked for by name."""
    device_types = list(dict.fromkeys(registry.device_type_of(name) for name in backends))
    targets = [Target(name, registry.device_type_of(name)) for name in backends]
    if args.graph:
        targets += _graph_targets(backends, notes)
    for peer in args.compare or ():
        for device_type in device_types:
            reason = peer_reason(peer, device_type)
            if reason is None:
                targets.append(Target(peer, device_type, peer=True))
                if args.graph and device_type == "cuda" and peer in GRAPHED_PEER_STEPS:
                    targets.append(Target(peer, device_type, peer=True, graph=True))
            else:
                notes.append(f"{peer} ({device_type}): not run: {_one_line(reason)}")
    configs = _mlp_configs(args, has_gpu="cuda" in device_types)
    skip_large_on_cpu = args.size is None and "cpu" in device_types
    if skip_large_on_cpu and any(size == "large" for size, _ in configs):
        notes.append("large: not run on the CPU (minutes per step); ask with --size large")
    return [
        (config, target)
        for size, config in configs
        for target in targets
        if not (skip_large_on_cpu and size == "large" and target.device_type == "cpu")
    ]


GRAPH_BACKENDS = ("cupy",)
"""Our backends that capture a step into a CUDA graph; elsewhere `graph_step` runs eagerly."""


def _graph_targets(backends: list[str], notes: list[str]) -> list[Target]:
    """The `--graph` rows: each chosen backend that captures CUDA graphs, replaying its step."""
    graphed = [name for name in backends if name in GRAPH_BACKENDS]
    if not graphed:
        notes.append(
            "--graph: not run: CUDA graphs need the cupy backend on a GPU "
            f"(chosen here: {', '.join(backends)})"
        )
    return [Target(name, "cuda", graph=True) for name in graphed]


def _bench_mlp(
    args: argparse.Namespace, backends: list[str], machine: dict[str, Any], notes: list[str]
) -> int:
    jobs = _mlp_jobs(args, backends, notes)
    warmup = args.warmup
    if any(target.graph for _, target in jobs):
        warmup = max(warmup, GRAPH_WARMUP)  # the capture falls in the untimed steps
    for note in notes:
        print(note)
    total = len(jobs) * (warmup + args.steps * args.repeats)
    with Progress(total, enabled=False if args.quiet else None) as progress:
        results = run_mlp(
            jobs,
            args.dtype,
            args.optimizer,
            args.steps,
            warmup,
            args.repeats,
            on_config=lambda name: progress.update(0, description=name),
            on_step=progress.update,
        )
    print(mlp_table(results))
    print(MLP_LEGEND)
    for line in crossovers(results):
        print(line)
    _write_json(args, machine, notes, [r.to_dict() for r in results])
    if args.plot:
        plot_batch_sweep(results, args.plot)
        print(f"plot written to {args.plot}")
    return 0


def _bench_distributed(
    args: argparse.Namespace, backends: list[str], machine: dict[str, Any], notes: list[str]
) -> int:
    """Times the data-parallel step on every process of the MPI job; rank 0 reports."""
    if args.suite != "mlp" or args.compare:
        raise UsageError("--distributed times the MLP step alone (no --suite ops, no --compare)")
    if len(backends) != 1:
        raise UsageError(f"--distributed times one backend; name it with --backend, got {backends}")
    configs = [config for _, config in _mlp_configs(args, has_gpu=False)]
    try:
        results = [
            run_distributed(
                config,
                backends[0],
                args.dtype,
                args.optimizer,
                args.steps,
                args.warmup,
                args.repeats,
            )
            for config in configs
        ]
    except ValueError as error:
        raise UsageError(str(error)) from None
    if distributed.get_rank() == 0:
        print(distributed_table(results))
        _write_json(args, machine, notes, [r.to_dict() for r in results])
    return 0


def _write_json(
    args: argparse.Namespace, machine: dict[str, Any], notes: list[str], rows: list[dict]
) -> None:
    """Writes `--json FILE`: the suite, the machine, the settings, the notes and the rows."""
    if args.json is None:
        return
    settings = {key: value for key, value in vars(args).items() if key != "handler"}
    document = {
        "suite": args.suite,
        "machine": machine,
        "settings": settings,
        "notes": notes,
        "results": rows,
    }
    with open(args.json, "w", encoding="utf-8") as file:
        json.dump(document, file, indent=2)
        file.write("\n")
    print(f"results written to {args.json}")


# -- train ---------------------------------------------------------------------------------------


FLAGS_SHOWN = 5
"""How many gradient-health flags `train --plot-grads` prints (all are in the plot)."""


def run_train(args: argparse.Namespace) -> int:
    """Trains the MLP or CNN on digits, printing loss and test accuracy after every epoch."""
    for option, wanted in (("--plot", args.plot), ("--plot-grads", args.plot_grads)):
        if wanted and importlib.util.find_spec("matplotlib") is None:
            raise UsageError(f"{option} needs matplotlib, which is not installed")
    if args.data is not None and not Path(args.data).is_dir():
        raise UsageError(f"--data {args.data}: no such directory")
    if args.distributed:
        _join_process_group()
    lead = not args.distributed or distributed.get_rank() == 0  # rank 0 alone prints and saves
    try:
        device = bp.device(args.device, backend=args.backend)
        if args.distributed and device.type == "cuda":
            device = bp.device(f"cuda:{distributed.get_local_rank()}", backend=args.backend)
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        splits = training.load_data(args.data, device)
    except (ImportError, FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    bp.manual_seed(args.seed)
    image_shape = splits.train.tensors[0].shape[1:]
    model = training.build_model(args.model, image_shape, args.hidden).to(device)
    sampler = None
    if args.distributed:
        model = DistributedDataParallel(model)
        sampler = DistributedSampler(splits.train, shuffle=True, seed=args.seed)
    optimizer = training.build_optimizer(args.optimizer, model, args.lr)
    recorder = GradientRecorder(model) if args.plot_grads else None
    processes = f", {distributed.get_world_size()} processes" if args.distributed else ""
    if lead:
        print(f"{splits.description}; {args.model} on {device}{processes}")

    loader = DataLoader(
        splits.train, batch_size=args.batch_size, shuffle=sampler is None, sampler=sampler
    )
    total = args.epochs * len(loader)
    quiet = args.quiet or not lead
    with Progress(total, "train", enabled=False if quiet else None) as progress:
        epochs = training.fit(
            model,
            optimizer,
            loader,
            splits.test,
            args.epochs,
            step=(lambda: recorder.step(optimizer)) if recorder else None,
            on_batch=progress.update,
        )
        history = []
        for result in epochs:
            history.append(result)
            if lead:
                progress.write(
                    f"epoch {result.epoch}/{args.epochs}  loss {result.loss:.4f}  "
                    f"test accuracy {result.test_accuracy:.2%}  ({result.seconds:.1f} s)"
                )
    if args.plot and lead:
        training.plot_history(history, args.plot)
        print(f"learning curves plotted to {args.plot}")
    if recorder is not None and lead:
        recorder.plot(args.plot_grads)
        print(f"gradient norms plotted to {args.plot_grads}; {len(recorder.flags)} flags raised")
        for flag in recorder.flags[:FLAGS_SHOWN]:
            print(f"  {flag}")
    if args.save and lead:
        save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, args.save)
        print(f"checkpoint written to {args.save}")
    return 0


def _join_process_group() -> None:
    """Joins the MPI job this process was launched in (`mpiexec -n N backprop train ...`)."""
    try:
        distributed.init_process_group("auto")
    except (RuntimeError, ValueError) as error:
        raise UsageError(str(error)) from None


# -- the parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `backprop` command and its subcommands."""

    parser = argparse.ArgumentParser(
        prog="backprop", description="Reverse-mode autodiff on NumPy, CuPy and Numba-CUDA."
    )
    parser.add_argument("--version", action="version", version=f"backprop {bp.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help="versions, backends, GPU and BLAS of this machine")
    info.add_argument("--json", action="store_true", help="print the description as JSON")
    info.set_defaults(handler=run_info)

    bench = commands.add_parser(
        "bench",
        help="time an MLP training step on every backend",
        description="Times an MLP training step (forward, cross-entropy, backward, optimizer "
        "update) on every backend that can run here, warm-ups excluded, median and min-max "
        "over repeats.",
    )
    bench.add_argument(
        "--suite",
        choices=("mlp", "ops"),
        default="mlp",
        help="mlp: the training step (default); ops: matmul TFLOP/s and "
        "elementwise GB/s against the copy bandwidth",
    )
    bench.add_argument(
        "--size",
        type=_choice_list((*SIZES, "all")),
        default=None,
        help="standard configs, comma-separated: small (784-256-256-10, batch "
        "128), medium (784-1024-1024-10, batch 1024), large (4096x3 hidden, "
        "batch 8192) or all; default small,medium (and large on GPUs only)",
    )
    bench.add_argument(
        "--layers",
        type=_int_list,
        default=None,
        help="a custom MLP, widths from input to classes, e.g. 784,1024,10",
    )
    bench.add_argument(
        "--batch",
        type=_integer_at_least(1),
        default=None,
        help="batch size (default: the standard config's, 128 for --layers)",
    )
    bench.add_argument(
        "--batches",
        type=_int_list,
        default=None,
        help="a sweep of batch sizes, e.g. 32,128,512 (for --plot)",
    )
    bench.add_argument(
        "--backend",
        type=_backend_list,
        default=None,
        help="backends to time, comma-separated (default: every available one)",
    )
    bench.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    bench.add_argument(
        "--precision",
        choices=FLOAT32_MATMUL_PRECISIONS,
        default="highest",
        help="float32 matmul precision on GPUs: high allows TF32",
    )
    bench.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    bench.add_argument(
        "--steps", type=_integer_at_least(1), default=10, help="timed steps per repeat"
    )
    bench.add_argument("--warmup", type=_integer_at_least(0), default=3, help="untimed steps first")
    bench.add_argument(
        "--repeats",
        type=_integer_at_least(1),
        default=5,
        help="timed repeats: the median and min-max are over these",
    )
    bench.add_argument(
        "--compare",
        type=_choice_list(PEERS),
        default=None,
        help="peers timed in the same run: torch, jax or torch,jax",
    )
    bench.add_argument("--json", metavar="FILE", help="write raw numbers and the machine here")
    bench.add_argument(
        "--plot",
        metavar="FILE",
        help="plot time against batch size (needs matplotlib; see --batches)",
    )
    bench.add_argument(
        "--graph",
        action="store_true",
        help="also time the step captured into a CUDA graph and replayed (cupy), next to "
        "PyTorch's own CUDA graph with --compare torch",
    )
    bench.add_argument(
        "--distributed",
        action="store_true",
        help="time the data-parallel step in an MPI job (mpiexec -n N backprop bench "
        "--distributed --backend numpy): all-reduce time, scaling efficiency, ring model",
    )
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.set_defaults(handler=run_bench)

    train = commands.add_parser(
        "train",
        help="train an MLP or a small CNN on handwritten digits",
        description="Trains on scikit-learn's bundled 8x8 digits, or on MNIST IDX files from "
        "--data, printing the loss and the test accuracy after every epoch.",
    )
    train.add_argument("--model", choices=training.MODELS, default="mlp")
    train.add_argument(
        "--hidden",
        type=_int_list,
        default=(128, 128),
        help="hidden widths of the MLP (default 128,128)",
    )
    train.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="a directory with MNIST's IDX .gz files (default: the digits)",
    )
    train.add_argument(
        "--device",
        default=None,
        help="cpu (the default, or $BACKPROP_DEVICE), cuda, cuda:N or auto",
    )
    train.add_argument("--backend", default=None, help="a backend by name, e.g. numba")
    train.add_argument("--epochs", type=_integer_at_least(1), default=10)
    train.add_argument("--batch-size", type=_integer_at_least(1), default=64)
    train.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="learning rate (default 0.05 for sgd, 0.002 for adam)",
    )
    train.add_argument("--optimizer", choices=tuple(training.LEARNING_RATES), default="adam")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--plot",
        metavar="FILE",
        help="plot the training loss and test accuracy per epoch here (needs matplotlib)",
    )
    train.add_argument(
        "--plot-grads",
        metavar="FILE",
        help="plot per-layer gradient and update norms here (needs matplotlib)",
    )
    train.add_argument("--save", metavar="PATH", help="write a model + optimizer checkpoint")
    train.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the processes of an MPI job: mpiexec -n N backprop train "
        "--distributed (rank 0 prints and saves)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=run_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `backprop` command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, registry.BackendUnavailableError) as error:
        print(f"backprop {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"backprop {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
