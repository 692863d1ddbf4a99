"""The interop suite's client toolchains: found, installed and cached, or a clear failure.

- gitpod-sdk (1.x, and the older JSON 0.11): each in its own virtual environment under
  `.cache/interop/`, named by a hash of its requirements file and the Python version, so a
  changed pin builds a new one and an unchanged one is reused. A `.complete` marker is
  written last: a half-built venv (killed install) is rebuilt, never used.
- TypeScript: `npm ci` into `tests/interop/ts/node_modules` when `package-lock.json` changed
  (a marker holds the lockfile's hash), then, every run, `buf generate` with protoc-gen-es
  from node_modules as a local plugin and `tsc`: the client is always generated from the
  protos as they are now, and the scenario program is type-checked against it.
- grpcurl and buf come from `.venv/bin`; curl and node from the machine.

A missing prerequisite fails the tests that need it, with what to install; nothing skips.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.servers import REPO

INTEROP = Path(__file__).resolve().parent
TS_DIR = INTEROP / "ts"
CACHE = REPO / ".cache" / "interop"
SDK_REQUIREMENTS = INTEROP / "sdk-requirements.txt"
LEGACY_SDK_REQUIREMENTS = INTEROP / "legacy-sdk-requirements.txt"
MIN_NODE_MAJOR = 20


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


def sdk_python(requirements: Path = SDK_REQUIREMENTS) -> Path:
    """The python of the cached venv with `requirements` installed, building it if needed."""
    key = _digest(requirements.read_bytes(), sys.version.encode())
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
            str(requirements),
        ],
        f"installing {requirements.name} (pip, from PyPI)",
        env=clean_env(),
    )
    marker.write_text(requirements.read_text())
    return python


def node() -> str:
    path = system_tool("node", f"install Node.js {MIN_NODE_MAJOR} or newer (with npm)")
    version = _checked([path, "--version"], "node --version").stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    if major < MIN_NODE_MAJOR:
        raise ToolchainError(f"node {version} is too old: Node.js {MIN_NODE_MAJOR}+ is needed")
    return path


def node_modules() -> Path:
    """`npm ci` when package-lock.json changed since the last install; returns node_modules."""
    npm = system_tool("npm", "install npm (it ships with Node.js)")
    modules = TS_DIR / "node_modules"
    lock = TS_DIR / "package-lock.json"
    marker = modules / f".warmpool-lock-{_digest(lock.read_bytes())}"
    if not marker.exists():
        _checked(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            "npm ci (installing the pinned TypeScript toolchain)",
            cwd=TS_DIR,
        )
        marker.touch()
    return modules


@functools.cache
def build_typescript_client() -> Path:
    """Generate the TS client from proto/ and compile the scenario program; returns its .js.

    Once per test session (a failure is not cached, so every TS test reports it)."""
    node()
    modules = node_modules()
    if not (modules / ".bin" / "protoc-gen-es").exists():
        raise ToolchainError("protoc-gen-es is missing from node_modules: delete it and rerun")
    shutil.rmtree(TS_DIR / "gen", ignore_errors=True)
    shutil.rmtree(TS_DIR / "dist", ignore_errors=True)
    _checked(
        [venv_tool("buf"), "generate", "--template", str(TS_DIR / "buf.gen.yaml")],
        "buf generate with protoc-gen-es",
    )
    _checked(
        [node(), str(modules / "typescript" / "bin" / "tsc"), "-p", str(TS_DIR)],
        "tsc (type-checking the scenario program against the generated client)",
        cwd=TS_DIR,
    )
    program = TS_DIR / "dist" / "src" / "client.js"
    if not program.exists():
        raise ToolchainError(f"tsc did not produce {program}")
    return program


def buf_image(out_dir: Path) -> Path:
    """This repo's protos compiled once into a buf image, for `buf curl --schema`."""
    image = out_dir / "warmpool.binpb"
    if not image.exists():
        _checked([venv_tool("buf"), "build", "-o", str(image)], "buf build")
    return image
