"""Quick checks of the Docker image's inputs; docker/build_and_test.sh builds and runs it."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11 and later")

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
if not (DOCKER / "Dockerfile").is_file():
    pytest.skip("no docker/ beside the tests (as inside the image)", allow_module_level=True)
_spec = importlib.util.spec_from_file_location("_reqs", DOCKER / "pyproject_requirements.py")
_reqs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_reqs)
requirements = _reqs.requirements
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_requirements_follow_extras_that_name_the_project():
    pyproject = {
        "build-system": {"requires": ["setuptools>=68"]},
        "project": {
            "name": "demo",
            "dependencies": ["numpy>=1.24"],
            "optional-dependencies": {"test": ["pytest"], "dev": ["Demo[test]", "ruff"]},
        },
    }
    assert requirements(pyproject, ["dev"]) == ["setuptools>=68", "numpy>=1.24", "ruff", "pytest"]
    with pytest.raises(SystemExit, match="no extra 'gpu'"):
        requirements(pyproject, ["gpu"])


@pytest.mark.parametrize("cuda", ["12", "13"])
def test_constraints_pin_every_requirement_of_the_image(cuda):
    """A dependency added to pyproject.toml must be pinned for the image too: rerun
    docker/update_constraints.sh."""
    lines = (DOCKER / f"constraints-cuda{cuda}.txt").read_text().splitlines()
    pinned = {_name(line) for line in lines if line and not line.startswith("#")}
    extras = [
        extra
        for extra in PYPROJECT["project"]["optional-dependencies"]
        if extra != "dev" and not (extra.startswith("cuda") and extra != f"cuda{cuda}")
    ]
    wanted = requirements(PYPROJECT, extras) + ["numba-cuda"]
    missing = sorted({_name(r) for r in wanted} - pinned)
    assert not missing, f"constraints-cuda{cuda}.txt pins no version of {missing}"


def test_every_subpackage_goes_into_the_wheel():
    """The image installs a wheel, not the source tree: a package missing from pyproject's
    list imports here (editable install) but not there."""
    listed = PYPROJECT.get("tool", {}).get("setuptools", {}).get("packages")
    if not isinstance(listed, list):
        pytest.skip("pyproject.toml finds its packages itself")
    listed = set(listed)
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "backprop").rglob("__init__.py")
    }
    missing = sorted(found - listed)
    assert not missing, f"pyproject.toml [tool.setuptools] packages lacks {missing}"


def test_dockerignore_lets_in_what_the_dockerfile_copies():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = []
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources += [s for s in line.split()[1:-1] if not s.startswith("--")]
    assert sources
    for source in sources:
        included = False  # the last matching pattern wins, as in Docker
        for pattern in patterns:
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(source, pattern.lstrip("!").rstrip("/")):
                included = negated
        assert included, f".dockerignore keeps {source} out of the build context"


def test_build_script_parses():
    subprocess.run(["bash", "-n", str(DOCKER / "build_and_test.sh")], check=True)


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed")
def test_hadolint_finds_nothing():
    result = subprocess.run(
        ["hadolint", "--failure-threshold", "warning", str(DOCKER / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
