"""The conda environment and pyproject.toml name the same requirements."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _normalise(requirement: str) -> str:
    # drop inline comments and whitespace, lower-case the name part
    requirement = requirement.split("#")[0].strip().replace(" ", "")
    name = re.match(r"[A-Za-z0-9_.\-]+(\[[^\]]*\])?", requirement).group(0)
    return name.lower().replace("_", "-") + requirement[len(name) :]


def test_environment_yml_names_the_pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        expected |= set(extra)

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {r for r in pip_section if not r.startswith("-e")}

    assert {_normalise(r) for r in listed} == {_normalise(r) for r in expected}


def test_pins_that_the_stack_needs_are_present():
    requirements = set(
        _normalise(r)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
            "dependencies"
        ]
    )
    assert "pandas>=2.3,<3" in requirements
    assert "sqlglot<30.18" in requirements
