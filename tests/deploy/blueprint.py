"""render.yaml read the way Render reads it: its services, their commands, and
the environment each one gets."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.processes import outside_env

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = ROOT / "render.yaml"
SCHEMA = Path(__file__).with_name("render.schema.json")

# What the person deploying types into Render's dashboard (`sync: false`).
Dashboard = Mapping[str, str]


def load() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(BLUEPRINT.read_text())
    return loaded


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text())
    return loaded


@dataclass
class Blueprint:
    data: dict[str, Any]
    database_url: str = ""
    dashboard: Dashboard = field(default_factory=dict)
    _generated: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def services(self) -> list[dict[str, Any]]:
        return list(self.data["services"])

    def service(self, name: str) -> dict[str, Any]:
        [found] = [s for s in self.services if s["name"] == name]
        return found

    def of_runtime(self, runtime: str) -> list[dict[str, Any]]:
        return [s for s in self.services if s["runtime"] == runtime]

    def env(self, name: str) -> dict[str, str]:
        """The environment Render gives the service: values, generated secrets
        (one per service and key, shared with services that refer to them), the
        database's URL, other services' values and the dashboard's."""
        env: dict[str, str] = {}
        for var in self.service(name).get("envVars", []):
            key = var["key"]
            if "value" in var:
                env[key] = str(var["value"])
            elif var.get("generateValue"):
                env[key] = self._generated.setdefault((name, key), secrets.token_urlsafe(48))
            elif "fromDatabase" in var:
                assert var["fromDatabase"]["property"] == "connectionString", var
                env[key] = self.database_url
            elif "fromService" in var:
                source = var["fromService"]
                env[key] = self.env(source["name"])[source["envVarKey"]]
            elif var.get("sync") is False:
                assert key in self.dashboard, f"render.yaml asks the dashboard for {key}"
                env[key] = self.dashboard[key]
        return env


def clean_copy(destination: Path) -> Path:
    """The repository as a fresh clone of it would be: the files git tracks (and
    new ones it would), nothing it ignores: no .venv, database, mail or cache."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    destination.mkdir(parents=True)
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if not source.is_file():
            continue  # deleted in the working tree, not yet committed
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        target.chmod(source.stat().st_mode & 0o777)
    return destination


# Besides the portal's settings: this test run's own Python must not leak in.
_THIS_PYTHON = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")


def machine_env(venv: Path | None = None) -> dict[str, str]:
    """This machine's environment without any portal setting, with `venv` first
    on PATH (as Render's Python services have theirs)."""
    env = {k: v for k, v in outside_env().items() if k not in _THIS_PYTHON}
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env
