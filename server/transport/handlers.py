"""The RPC handlers both transports call: authenticate, run the use case, build the response.

gRPC and Connect deliver the same decoded request messages; this class is what they share, so
each protocol adapter only moves headers, deadlines and statuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitpod.v1 import prebuild_pb2 as pb

from server.errors import Unimplemented
from server.transport.messages import warm_pool_message

if TYPE_CHECKING:
    from server.service.auth import Authenticator
    from server.service.warm_pools import WarmPoolService


class PrebuildHandlers:
    def __init__(self, auth: Authenticator, warm_pools: WarmPoolService) -> None:
        self._auth = auth
        self._warm_pools = warm_pools

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

    async def not_implemented(self, method: str, authorization: str | None) -> None:
        await self._auth.authenticate(authorization)
        raise Unimplemented(f"{method} is not implemented by this server yet")
