"""Runs the interop plan with the older, JSON-only gitpod-sdk (0.11); executed by its own venv.

    <legacy-venv>/bin/python -m tests.interop.legacy_sdk_client < job.json > outcomes.json

Before 1.0 the `gitpod-sdk` package was a generated REST-style client over httpx: JSON POSTs
without Connect headers, snake_case keyword arguments, pydantic models, an exception class
per HTTP status, and an auto-paginator that sends the first page's body again with
`?token=…&pageSize=…`. Clients built on it are still around; this is the one the behaviour
spec's "older JSON SDKs" paging rule is for. The plan's paged list uses the SDK's own
paginator (`page_size=` and `get_next_page()`), not hand-written paging. A required keyword
argument the plan's request leaves out (CreatePrebuild without `spec`) is passed as the SDK's
`Omit()`, its own way of sending a body without that field.

Only the SDK's packages and the standard library may be imported here.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from typing import Any

from tests.interop.plan import JSON, Outcome, plan_from_json, run_plan

_METHODS = {
    "CreateWarmPool": "create_warm_pool",
    "GetWarmPool": "retrieve_warm_pool",
    "ListWarmPools": "list_warm_pools",
    "UpdateWarmPool": "update_warm_pool",
    "DeleteWarmPool": "delete_warm_pool",
    "CreatePrebuild": "create",
    "GetPrebuild": "retrieve",
    "ListPrebuilds": "list",
    "CancelPrebuild": "cancel",
    "DeletePrebuild": "delete",
    "CreatePrebuildLogsToken": "create_logs_token",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _kwargs(value: JSON) -> JSON:
    """The plan's camelCase JSON as the SDK's snake_case keyword arguments."""
    if isinstance(value, dict):
        return {_snake(k): _kwargs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_kwargs(v) for v in value]
    return value


def _json(response: Any) -> JSON:
    if hasattr(response, "to_dict"):
        return response.to_dict(mode="json")
    return response  # DeleteWarmPool and DeletePrebuild are typed `object`: the JSON as is


def _omit_missing(rpc: Any, kwargs: JSON, omit: Any) -> JSON:
    """`kwargs` plus `omit` for every required keyword argument of `rpc` it lacks."""
    missing = {
        name: omit
        for name, param in inspect.signature(rpc).parameters.items()
        if param.kind is param.KEYWORD_ONLY and param.default is param.empty and name not in kwargs
    }
    return {**kwargs, **missing}


def main() -> None:
    # The SDK's top-level package is also called `gitpod` (as is this repo's gen/gitpod, which
    # type checkers see); import it by name so nobody mistakes one for the other.
    gitpod: Any = importlib.import_module("gitpod")
    job = json.load(sys.stdin)
    clients: dict[str | None, Any] = {}

    def client_for(token: str | None) -> Any:
        if token not in clients:
            # No retries: the SDK would retry 409/429/5xx with back-off, which only slows
            # the suite. No token: the Authorization header is left out entirely.
            options: dict[str, Any] = {"base_url": job["baseUrl"], "max_retries": 0}
            if token is None:
                options.update(bearer_token="-", default_headers={"Authorization": gitpod.Omit()})
            else:
                options.update(bearer_token=token)
            clients[token] = gitpod.Gitpod(**options)
        return clients[token]

    def call(method: str, body: JSON, token: str | None) -> Outcome:
        rpc = getattr(client_for(token).prebuilds, _METHODS[method])
        kwargs = _omit_missing(rpc, _kwargs(body), gitpod.Omit())
        try:
            return {"ok": _json(rpc(**kwargs))}
        except gitpod.APIStatusError as exc:
            return _error(exc)

    def paged_call(method: str, body: JSON, token: str | None) -> Outcome:
        """The whole walk through the SDK's paginator, as one outcome with every page."""
        kwargs = _kwargs(body)
        page_size = kwargs.pop("pagination", {}).get("page_size")
        rpc = getattr(client_for(token).prebuilds, _METHODS[method])
        pages: list[JSON] = []
        try:
            page = rpc(**kwargs, page_size=page_size)
            pages.append(_json(page))
            while page.has_next_page() and len(pages) < 10:
                page = page.get_next_page()
                pages.append(_json(page))
        except gitpod.APIStatusError as exc:
            return {**_error(exc), "pagesBefore": pages}
        return {"pages": pages}

    plan = plan_from_json(job["plan"])
    outcomes = run_plan(plan, call, paged=paged_call)
    json.dump({"outcomes": outcomes}, sys.stdout)


def _error(exc: Any) -> Outcome:
    body = exc.body if isinstance(exc.body, dict) else {}
    return {
        "error": {
            "code": body.get("code", "(no code)"),
            "message": body.get("message", exc.message),
            "details": body.get("details", []),
            "httpStatus": exc.status_code,
            "sdkError": type(exc).__name__,
        }
    }


if __name__ == "__main__":
    main()
