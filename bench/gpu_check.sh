#!/usr/bin/env bash
# Everything a machine with an NVIDIA GPU should check, in one go: the GPU, the whole test suite
# with CuPy and Numba running for real, compute-sanitizer memcheck over the CuPy kernel tests,
# and the benchmarks against PyTorch. Each step runs even when an earlier one fails; its output
# goes to OUTDIR/<step>.log and its exit status to OUTDIR/summary.txt.
#
#   bench/gpu_check.sh OUTDIR [STEP...]
#
# Naming steps (gpu, environment, tests, memcheck, bench-mlp, bench-graph, bench-mlp-tf32,
# bench-ops, numba-bench) runs only those, for a session whose commands have a time limit.
#
# The package is installed, with --no-deps, into a folder of its own that goes first on
# PYTHONPATH (the GPU machine's Python environment may not be writable), and PYTHONSAFEPATH keeps
# the source tree off sys.path: only an install maps kernels/ to backprop.kernels. Numba 0.68
# cannot compile CUDA kernels under NumPy 2.5: where NumPy is 2.5 or newer and WHEELS_DIR names a
# directory holding a numpy 2.4 wheel, that wheel goes into the same folder.
set -uo pipefail

out=${1:?usage: bench/gpu_check.sh OUTDIR [STEP...]}
shift
wanted=" $* "
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
unset NUMBA_ENABLE_CUDASIM

run() {  # run NAME COMMAND...: output to OUTDIR/NAME.log, exit status to OUTDIR/summary.txt
    local name=$1
    shift
    echo "== $name: $*"
    "$@" >"$out/$name.log" 2>&1
    echo "$name $?" | tee -a "$out/summary.txt"
}

step() {  # like run, but only for the steps asked for (all when none were named)
    if [ "$wanted" = "  " ] || [[ "$wanted" == *" $1 "* ]]; then
        run "$@"
    fi
}

numpy_is_2_5_or_newer() {
    "$python" -c 'import numpy; major, minor = map(int, numpy.__version__.split(".")[:2])
raise SystemExit((major, minor) < (2, 5))'
}

site=$(mktemp -d)
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONSAFEPATH=1
if [ -n "${WHEELS_DIR:-}" ] && numpy_is_2_5_or_newer; then
    run numpy-2.4 "$python" -m pip install --no-index --no-deps --target "$site" \
        --find-links "$WHEELS_DIR" "numpy==2.4.*"
fi
run install "$python" -m pip install --no-deps --no-build-isolation --target "$site" .

step gpu nvidia-smi
step environment "$python" -c \
    "import backprop, numpy; print(backprop.__file__, numpy.__version__, backprop.available_backends())"
step tests "$python" -m pytest -q -ra --durations=20 --junitxml="$out/junit.xml"
step memcheck compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$python" -m pytest -q tests/test_cupy_backend.py
step bench-mlp "$python" -m backprop bench --backend numpy,cupy,numba --compare torch \
    --json "$out/bench.json" --quiet
step bench-graph "$python" -m backprop bench --backend cupy --graph --compare torch,jax \
    --json "$out/bench_graph.json" --quiet
step bench-mlp-tf32 "$python" -m backprop bench --backend cupy --size large --precision high \
    --compare torch --json "$out/bench_tf32.json" --quiet
step bench-ops "$python" -m backprop bench --suite ops --backend cupy,numba \
    --json "$out/bench_ops.json" --quiet
if [ -f bench/numba_bench.py ]; then
    step numba-bench "$python" bench/numba_bench.py
fi
