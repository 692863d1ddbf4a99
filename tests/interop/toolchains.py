"""The interop suite's client toolchains: found, installed and cached, or a clear failure.

- gitpod-sdk: its own virtual environment under `.cache/interop/`, named by a hash of
  `sdk-requirements.txt` and the Python version, so a changed pin builds a new one and an
  unchanged one is reused. A `.complete` marker is written last: a half-built venv (killed
  install) is rebuilt, never used.
- grpcurl and buf come from `.venv/bin`; curl from the machine.

A missing prerequisite fails the tests that need it, with what to install; nothing skips.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.servers import REPO

INTEROP = Path(__file__).resolve().parent
CACHE = REPO / ".cache" / "interop"
SDK_REQUIREMENTS = INTEROP / "sdk-requirements.txt"


class ToolchainError(RuntimeError):
    """A client toolchain is missing or could not be installed; the message says how to fix."""


def run(
    args: list[str],
    *,
    cwd: Path = REPO,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion, capturing text output; never raises on a non-zero exit."""
    return subprocess.run(
        args,
        cwd=cwd,
        input=input,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _checked(args: list[str], what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = run(args, **kwargs)  # type: ignore[arg-type]
    if result.returncode != 0:
        raise ToolchainError(
            f"{what} failed (exit {result.returncode}): {' '.join(args)}\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def venv_tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise ToolchainError(f"{name} is not in {path.parent}: run `make setup`")
    return str(path)


def system_tool(name: str, hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolchainError(f"`{name}` is not on PATH: {hint}")
    return found


def clean_env() -> dict[str, str]:
    """The environment for client programs: no PYTHONPATH/venv leaking into another venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def sdk_python() -> Path:
    """The python of the cached gitpod-sdk venv, building the venv if needed."""
    key = _digest(SDK_REQUIREMENTS.read_bytes(), sys.version.encode())
    venv = CACHE / f"sdk-venv-{key}"
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    if marker.exists() and python.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    _checked([base, "-m", "venv", str(venv)], "creating the gitpod-sdk venv")
    _checked(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(SDK_REQUIREMENTS),
        ],
        "installing gitpod-sdk (pip, from PyPI)",
        env=clean_env(),
    )
    marker.write_text(SDK_REQUIREMENTS.read_text())
    return python


def buf_image(out_dir: Path) -> Path:
    """This repo's protos compiled once into a buf image, for `buf curl --schema`."""
    image = out_dir / "warmpool.binpb"
    if not image.exists():
        _checked([venv_tool("buf"), "build", "-o", str(image)], "buf build")
    return image
