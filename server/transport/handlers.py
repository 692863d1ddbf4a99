"""The RPC handlers both transports call: authenticate, run the use case, build the response.

gRPC and Connect deliver the same decoded request messages; this class is what they share, so
each protocol adapter only moves headers, deadlines and statuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitpod.v1 import prebuild_pb2 as pb

from server.transport.messages import claim_message, prebuild_message, warm_pool_message

if TYPE_CHECKING:
    from warmpool.v1 import runtime_pb2

    from server.models import Prebuild
    from server.service.auth import Authenticator
    from server.service.claims import ClaimService
    from server.service.prebuilds import PrebuildService
    from server.service.warm_pools import WarmPoolService


class PrebuildHandlers:
    def __init__(
        self,
        auth: Authenticator,
        warm_pools: WarmPoolService,
        prebuilds: PrebuildService,
        logs_base_url: str = "",
    ) -> None:
        self._auth = auth
        self._warm_pools = warm_pools
        self._prebuilds = prebuilds
        # Where a prebuild's logs are served: <base>/<prebuild id> (see prebuild_logs.py).
        self._logs_base_url = logs_base_url.rstrip("/")

    def _prebuild(self, prebuild: Prebuild) -> pb.Prebuild:
        log_url = f"{self._logs_base_url}/{prebuild.id}" if self._logs_base_url else ""
        return prebuild_message(prebuild, log_url)

    async def create_prebuild(
        self, req: pb.CreatePrebuildRequest, authorization: str | None
    ) -> pb.CreatePrebuildResponse:
        principal = await self._auth.authenticate(authorization)
        prebuild = await self._prebuilds.create(principal, req)
        return pb.CreatePrebuildResponse(prebuild=self._prebuild(prebuild))

    async def get_prebuild(
        self, req: pb.GetPrebuildRequest, authorization: str | None
    ) -> pb.GetPrebuildResponse:
        principal = await self._auth.authenticate(authorization)
        prebuild = await self._prebuilds.get(principal, req)
        return pb.GetPrebuildResponse(prebuild=self._prebuild(prebuild))

    async def list_prebuilds(
        self, req: pb.ListPrebuildsRequest, authorization: str | None
    ) -> pb.ListPrebuildsResponse:
        principal = await self._auth.authenticate(authorization)
        page = await self._prebuilds.list(principal, req)
        response = pb.ListPrebuildsResponse(prebuilds=[self._prebuild(p) for p in page.prebuilds])
        response.pagination.next_token = page.next_token
        return response

    async def cancel_prebuild(
        self, req: pb.CancelPrebuildRequest, authorization: str | None
    ) -> pb.CancelPrebuildResponse:
        principal = await self._auth.authenticate(authorization)
        prebuild = await self._prebuilds.cancel(principal, req)
        return pb.CancelPrebuildResponse(prebuild=self._prebuild(prebuild))

    async def delete_prebuild(
        self, req: pb.DeletePrebuildRequest, authorization: str | None
    ) -> pb.DeletePrebuildResponse:
        principal = await self._auth.authenticate(authorization)
        await self._prebuilds.delete(principal, req)
        return pb.DeletePrebuildResponse()

    async def create_prebuild_logs_token(
        self, req: pb.CreatePrebuildLogsTokenRequest, authorization: str | None
    ) -> pb.CreatePrebuildLogsTokenResponse:
        principal = await self._auth.authenticate(authorization)
        token = await self._prebuilds.create_logs_token(principal, req)
        return pb.CreatePrebuildLogsTokenResponse(access_token=token)

    async def create_warm_pool(
        self, req: pb.CreateWarmPoolRequest, authorization: str | None
    ) -> pb.CreateWarmPoolResponse:
        principal = await self._auth.authenticate(authorization)
        pool = await self._warm_pools.create(principal, req)
        return pb.CreateWarmPoolResponse(warm_pool=warm_pool_message(pool))

    async def get_warm_pool(
        self, req: pb.GetWarmPoolRequest, authorization: str | None
    ) -> pb.GetWarmPoolResponse:
        principal = await self._auth.authenticate(authorization)
        pool = await self._warm_pools.get(principal, req)
        return pb.GetWarmPoolResponse(warm_pool=warm_pool_message(pool))

    async def list_warm_pools(
        self, req: pb.ListWarmPoolsRequest, authorization: str | None
    ) -> pb.ListWarmPoolsResponse:
        principal = await self._auth.authenticate(authorization)
        page = await self._warm_pools.list(principal, req)
        response = pb.ListWarmPoolsResponse(warm_pools=[warm_pool_message(p) for p in page.pools])
        response.pagination.next_token = page.next_token
        return response

    async def update_warm_pool(
        self, req: pb.UpdateWarmPoolRequest, authorization: str | None
    ) -> pb.UpdateWarmPoolResponse:
        principal = await self._auth.authenticate(authorization)
        pool = await self._warm_pools.update(principal, req)
        return pb.UpdateWarmPoolResponse(warm_pool=warm_pool_message(pool))

    async def delete_warm_pool(
        self, req: pb.DeleteWarmPoolRequest, authorization: str | None
    ) -> pb.DeleteWarmPoolResponse:
        principal = await self._auth.authenticate(authorization)
        await self._warm_pools.delete(principal, req)
        return pb.DeleteWarmPoolResponse()


class RuntimeHandlers:
    """warmpool.v1.WarmPoolRuntimeService: the runner-facing API."""

    def __init__(self, claims: ClaimService) -> None:
        self._claims = claims

    async def claim_instance(
        self, req: runtime_pb2.ClaimInstanceRequest, authorization: str | None
    ) -> runtime_pb2.ClaimInstanceResponse:
        # The claim resolves the token in its own statement (one round trip on the hot path).
        claim = await self._claims.claim(authorization, req)
        return claim_message(claim)
