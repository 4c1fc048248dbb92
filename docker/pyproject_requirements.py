"""Print the requirements that pyproject.toml declares, one per line, for pip's `-r`.

The image installs its dependencies in a layer of their own, from pyproject.toml alone, so
that a change to the code does not reinstall them. This prints the build requirements, the
runtime dependencies and those of the extras named on the command line; an extra that names
the project itself (`backprop[test]`) is followed.

    python pyproject_requirements.py pyproject.toml cuda12,numba,test
"""

from __future__ import annotations

import re
import sys

import tomllib


def requirements(pyproject: dict, extras: list[str]) -> list[str]:
    project = pyproject["project"]
    name = project["name"].lower()
    optional = project.get("optional-dependencies", {})
    found = list(pyproject.get("build-system", {}).get("requires", []))
    found += project.get("dependencies", [])
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop(0)
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"pyproject.toml has no extra {extra!r}; it has {sorted(optional)}")
        seen.add(extra)
        for requirement in optional[extra]:
            own = re.fullmatch(rf"{re.escape(name)}\[([^\]]+)\]", requirement.strip(), re.I)
            if own:
                todo += [e.strip() for e in own.group(1).split(",")]
            else:
                found.append(requirement)
    return list(dict.fromkeys(found))


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1], "rb") as file:
        pyproject = tomllib.load(file)
    extras = [e.strip() for e in sys.argv[2].split(",") if e.strip()]
    print("\n".join(requirements(pyproject, extras)))


if __name__ == "__main__":
    main()
