#!/usr/bin/env python3
"""Set up and run the Student Portal with nothing but Python 3.11+ and git.

    python3 dev.py start   # install into .venv, migrate, load demo data, then run the
                           # API (on :8000, or $PORT) and the scheduler until Ctrl+C
    python3 dev.py test    # install with test tools, then ruff, mypy and the whole pytest
                           # suite (in parallel, a pytest-xdist worker per core)
    python3 dev.py run     # what `start` runs last: the API and the scheduler, no set-up

Everything it installs goes into .venv beside this file; it reinstalls only when
pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if platform.system() == "Windows" else "bin")
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
STOP_GRACE_SECONDS = 40


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        print("The Student Portal needs Python 3.11 or newer.", file=sys.stderr)
        return 2
    command, rest = (argv[0], argv[1:]) if argv else ("start", [])
    if command == "start":
        return start(rest)
    if command == "test":
        return test(rest)
    if command == "run":
        return run_portal(rest)
    print(__doc__)
    return 2


def start(args: list[str]) -> int:
    ensure_venv(extras="")
    os.chdir(ROOT)
    run([portal(), "migrate"])
    run([portal(), "demo", "--if-empty"])
    return run_portal(args)


def run_portal(args: list[str]) -> int:
    """The API and the scheduler, side by side, until Ctrl+C (SIGINT) or SIGTERM
    stops both; if either ends on its own, the other is stopped too."""
    port = os.environ.get("PORT") or "8000"
    env = {**os.environ, "PORT": port}
    print(f"\nThe Student Portal is at http://localhost:{port}  (Ctrl+C stops it)\n", flush=True)
    stopping: list[int] = []

    def stop_requested(signum: int, frame: object) -> None:
        stopping.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_requested)
    children = [
        spawn([portal(), "serve", "--host", "127.0.0.1", "--port", port, *args], env),
        spawn([portal(), "scheduler"], env),
    ]
    try:
        while not stopping and all(child.poll() is None for child in children):
            try:
                children[0].wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
    finally:
        stop(children)
    if stopping:
        return 0 if all(child.returncode in (0, -signal.SIGTERM) for child in children) else 1
    return next(child.returncode for child in children if child.returncode is not None) or 1


def spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A process group of its own: Ctrl+C reaches only this script, which then
    # asks each child once to finish its work (a second signal would cut it short).
    if os.name == "posix":
        return subprocess.Popen(command, env=env, process_group=0)
    flags = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    return subprocess.Popen(command, env=env, creationflags=flags)


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each child still running, then wait; whatever outlives the grace is killed."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


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
    return subprocess.call([tool("pytest"), *parallel(args), *args])


def parallel(args: list[str]) -> list[str]:
    """pytest-xdist options: a worker per core, at most four (each has its
    PostgreSQL connections, its server and its Chromium, and PostgreSQL allows
    100 connections), each test alone but the tests of one `xdist_group`
    together (modules that start many servers, or share an expensive fixture).
    Given `-n` or `-p no:xdist`, the caller decides."""
    if any(arg.startswith(("-n", "--numprocesses")) or arg.endswith("no:xdist") for arg in args):
        return []
    return ["-n", "auto", "--maxprocesses", "4", "--dist", "loadgroup"]


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
