"""Load generators and their results: h2load (gRPC and Connect binary over h2c), wrk (Connect
JSON over HTTP/1.1) and a Python generator for calls whose bodies must differ (creates).

Every generator runs pinned to the load core; each returns a `Result` with throughput and
latency percentiles computed the same way.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

LOAD_CPU = "1"  # the server runs on CPU 0, load generators and Postgres on CPU 1


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def _pinned(command: list[str]) -> list[str]:
    return ["taskset", "-c", LOAD_CPU, *command]


def grpc_frame(message: bytes) -> bytes:
    return struct.pack(">BI", 0, len(message)) + message


def h2load(
    url: str,
    body: bytes,
    headers: dict[str, str],
    concurrency: int,
    seconds: float,
) -> Result:
    """POST `body` over h2c with `concurrency` streams in flight (spread over connections)."""
    connections = min(concurrency, 8)
    streams = max(1, concurrency // connections)
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp, "body")
        body_file.write_bytes(body)
        log_file = Path(tmp, "log")
        command = [
            "h2load", "-c", str(connections), "-m", str(streams), "-D", str(round(seconds)),
            "--warm-up-time", "1", "-d", str(body_file), "--log-file", str(log_file),
        ]  # fmt: skip
        for key, value in headers.items():
            command += ["-H", f"{key}: {value}"]
        out = subprocess.run(_pinned([*command, url]), capture_output=True, text=True, check=True)
        latencies = []
        errors = 0
        for line in log_file.read_text().splitlines():
            _, status, micros = line.split("\t")
            if status != "200":
                errors += 1
            latencies.append(int(micros) / 1000)
    match = re.search(r"finished in ([\d.]+)(m?s)", out.stdout)
    assert match, out.stdout
    elapsed = float(match[1]) / (1000 if match[2] == "ms" else 1)
    return Result(
        len(latencies), errors, elapsed, _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    )


_WRK_SCRIPT = """
local bodies = {}
local next_body = 0
local file = os.getenv("WRK_BODIES")
if file then
  for line in io.lines(file) do bodies[#bodies + 1] = line end
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
wrk.body = os.getenv("WRK_BODY") or ""
request = function()
  if #bodies > 0 then
    next_body = next_body % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[next_body])
  end
  return wrk.format()
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.3f %.3f\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk(
    url: str,
    token: str,
    concurrency: int,
    seconds: float,
    body: str = "",
    bodies: Sequence[str] = (),
) -> Result:
    """POST JSON over HTTP/1.1 keep-alive connections, one per concurrent caller."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "post.lua")
        script.write_text(_WRK_SCRIPT)
        env = dict(os.environ, WRK_TOKEN=token, WRK_BODY=body)
        if bodies:
            bodies_file = Path(tmp, "bodies")
            bodies_file.write_text("\n".join(bodies) + "\n")
            env["WRK_BODIES"] = str(bodies_file)
        duration = f"{round(seconds)}s"
        command = ["wrk", "-t", "1", "-c", str(concurrency), "-d", duration, "-s", str(script), url]
        out = subprocess.run(_pinned(command), capture_output=True, text=True, check=True, env=env)
    match = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", out.stdout)
    assert match, out.stdout + out.stderr
    return Result(
        int(match[1]), int(match[2]), int(match[3]) / 1e6, float(match[4]), float(match[5])
    )


async def python_load(
    call: Callable[[int], Awaitable[bool]], concurrency: int, total: int, timeout: float = 120
) -> Result:
    """Run `call(i)` for i in 0..total-1 with `concurrency` in flight; call returns success."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def worker() -> None:
        nonlocal errors
        for i in counter:
            started = time.perf_counter()
            ok = await call(i)
            latencies.append((time.perf_counter() - started) * 1000)
            if not ok:
                errors += 1

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout)
    elapsed = time.perf_counter() - started
    return Result(
        len(latencies), errors, elapsed, _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    )


def median_result(results: Sequence[Result]) -> Result:
    """The run with the median throughput, so one noisy run does not decide a figure."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")
