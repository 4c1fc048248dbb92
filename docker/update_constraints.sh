#!/usr/bin/env bash
# Regenerate docker/constraints-cuda12.txt and -cuda13.txt: the exact versions the image
# installs. Resolves what pyproject.toml asks for (plus Numba-CUDA's matching CUDA wheels) at
# today's newest releases, with the Python 3.11+ this runs on, without installing anything.
# Run it when pyproject.toml's dependencies change; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for cuda in 12 13; do
    # Every extra but dev and the other CUDA major's: the image may be built with any of them.
    extras=$("$python" -c '
import sys, tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
keep = [e for e in extras if e != "dev" and (not e.startswith("cuda") or e == sys.argv[1])]
print(",".join(keep))
' "cuda$cuda")
    "$python" docker/pyproject_requirements.py pyproject.toml "$extras" > "$work/requirements.txt"
    echo "numba-cuda[cu$cuda]" >> "$work/requirements.txt"
    # --isolated: ignore this machine's pip configuration (local indexes, caps).
    "$python" -m pip --isolated install --quiet --disable-pip-version-check --dry-run --ignore-installed \
        ${PIP_CERT:+--cert "$PIP_CERT"} --report "$work/report.json" -r "$work/requirements.txt"
    {
        echo "# Exact versions for the CUDA $cuda image; made by docker/update_constraints.sh."
        "$python" -c '
import json, sys
installs = json.load(open(sys.argv[1]))["install"]
pins = [i["metadata"]["name"] + "==" + i["metadata"]["version"] for i in installs]
print("\n".join(sorted(pins, key=str.lower)))
' "$work/report.json"
    } > "docker/constraints-cuda$cuda.txt"
    echo "wrote docker/constraints-cuda$cuda.txt"
done
