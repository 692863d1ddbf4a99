"""Baseline servers for the benchmarks: the protocol stacks alone, with no service behind them.

`python -m bench.echo grpc PORT` serves a bare grpc.aio servicer; `python -m bench.echo
connect PORT` serves connectrpc's generated ASGI application on the same embedded granian
settings the real server uses. Both answer GetWarmPool and CreateWarmPool with a canned pool
of the size the real server returns, so the bytes on the wire match.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import grpc
from gitpod.v1 import prebuild_connect, prebuild_pb2_grpc
from gitpod.v1 import prebuild_pb2 as pb
from granian.constants import HTTPModes, Interfaces
from granian.server.embed import Server as GranianServer

from server.models import WarmPool, WarmPoolPhase
from server.transport.connect import CODECS
from server.transport.messages import warm_pool_message

_NOW = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
POOL = warm_pool_message(
    WarmPool(
        id="25cc4dcc-393e-44bc-887e-a4b4db8a3de2",
        organization_id="5b9c2a63-1a1e-4d51-9a37-7e0f6a1c0d01",
        project_id="b0e12f6c-4c67-429d-a4a6-d9838b5da047",
        environment_class_id="d2c94c27-3b76-4a42-b88c-95a85e392c68",
        runner_id="9f7d4c1e-2b8a-4e6f-8c3d-1a2b3c4d5e6f",
        created_at=_NOW,
        updated_at=_NOW,
        spec_version=1,
        legacy_desired_size=0,
        min_size=1,
        max_size=1,
        snapshot_id=None,
        desired_phase=WarmPoolPhase.READY,
        phase=WarmPoolPhase.PENDING,
        failure_message="",
        status_version=1,
        running_instances=0,
        stopped_instances=0,
        target_size=1,
    )
)


class EchoServicer(prebuild_pb2_grpc.PrebuildServiceServicer):
    async def GetWarmPool(self, request: Any, context: Any) -> pb.GetWarmPoolResponse:
        return pb.GetWarmPoolResponse(warm_pool=POOL)

    async def CreateWarmPool(self, request: Any, context: Any) -> pb.CreateWarmPoolResponse:
        return pb.CreateWarmPoolResponse(warm_pool=POOL)


class EchoConnect(prebuild_connect.PrebuildService):
    async def get_warm_pool(self, request: Any, ctx: Any, /) -> pb.GetWarmPoolResponse:
        return pb.GetWarmPoolResponse(warm_pool=POOL)

    async def create_warm_pool(self, request: Any, ctx: Any, /) -> pb.CreateWarmPoolResponse:
        return pb.CreateWarmPoolResponse(warm_pool=POOL)


async def serve_grpc(port: int) -> None:
    server = grpc.aio.server()
    prebuild_pb2_grpc.add_PrebuildServiceServicer_to_server(EchoServicer(), server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


async def serve_connect(port: int) -> None:
    app = prebuild_connect.PrebuildServiceASGIApplication(EchoConnect(), codecs=CODECS)
    server = GranianServer(
        app,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGINL,
        http=HTTPModes.auto,
        log_enabled=False,
        websockets=False,
    )
    task = asyncio.create_task(server.serve())
    await asyncio.sleep(0.2)
    print("ready", flush=True)
    await task


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    asyncio.run(serve_grpc(port) if kind == "grpc" else serve_connect(port))


if __name__ == "__main__":
    main()
