"""The interop suite's client toolchains: found, installed and cached, or a clear failure.

- grpcurl and buf come from `.venv/bin`; curl from the machine.

A missing prerequisite fails the tests that need it, with what to install; nothing skips.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.servers import REPO


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


def buf_image(out_dir: Path) -> Path:
    """This repo's protos compiled once into a buf image, for `buf curl --schema`."""
    image = out_dir / "warmpool.binpb"
    if not image.exists():
        _checked([venv_tool("buf"), "build", "-o", str(image)], "buf build")
    return image
