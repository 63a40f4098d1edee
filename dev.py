#!/usr/bin/env python3
"""Set up and run the Student Portal with nothing but Python 3.11+ and git.

    python3 dev.py start   # install into .venv, migrate, load demo data, serve on :8000
    python3 dev.py test    # install with test tools, then ruff, mypy and the whole pytest suite

Everything it installs goes into .venv beside this file; it reinstalls only when
pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if platform.system() == "Windows" else "bin")
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        print("The Student Portal needs Python 3.11 or newer.", file=sys.stderr)
        return 2
    command, rest = (argv[0], argv[1:]) if argv else ("start", [])
    if command == "start":
        return start(rest)
    if command == "test":
        return test(rest)
    print(__doc__)
    return 2


def start(args: list[str]) -> int:
    ensure_venv(extras="")
    os.chdir(ROOT)
    run([portal(), "migrate"])
    run([portal(), "demo", "--if-empty"])
    port = os.environ.get("PORT", "8000")
    print(f"\nThe Student Portal is at http://localhost:{port}  (Ctrl+C stops it)\n", flush=True)
    return subprocess.call([portal(), "serve", "--host", "127.0.0.1", "--port", port, *args])


def test(args: list[str]) -> int:
    ensure_venv(extras="test")
    os.chdir(ROOT)
    ensure_browser()
    for step in (
        [tool("ruff"), "check", "."],
        [tool("ruff"), "format", "--check", "."],
        [tool("mypy")],
    ):
        run(step)
    return subprocess.call([tool("pytest"), *args])


def ensure_venv(*, extras: str) -> None:
    if not (BIN / "python").exists() and not (BIN / "python.exe").exists():
        print("Creating .venv ...", flush=True)
        run([sys.executable, "-m", "venv", str(VENV)])
        run([tool("python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{extras or 'app'}-{digest}"
    if stamp.exists():
        return
    target = f".[{extras}]" if extras else "."
    print(f"Installing the portal ({target}) into .venv ...", flush=True)
    run([tool("python"), "-m", "pip", "install", "--quiet", "-e", target], cwd=ROOT)
    for old in VENV.glob(f".installed-{extras or 'app'}-*"):
        old.unlink()
    stamp.touch()


def ensure_browser() -> None:
    """The browser tests drive Chromium: Debian's package where there is one,
    otherwise the one Playwright downloads for itself."""
    if DEBIAN_CHROMIUM.exists():
        return
    apt = shutil.which("apt-get")
    if apt and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("Installing Debian's chromium for the browser tests ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run([apt, "update", "-qq"], env=env)
        run([apt, "install", "-y", "-qq", "chromium"], env=env)
        return
    print("Installing Playwright's Chromium for the browser tests ...", flush=True)
    run([tool("python"), "-m", "playwright", "install", "chromium"])


def tool(name: str) -> str:
    for candidate in (BIN / name, BIN / f"{name}.exe"):
        if candidate.exists():
            return str(candidate)
    return str(BIN / name)


def portal() -> str:
    return tool("portal")


def run(command: list[str], **kwargs: object) -> None:
    result = subprocess.run(command, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        print(f"dev.py: `{' '.join(command)}` failed with exit code {result.returncode}")
        raise SystemExit(result.returncode)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
