"""``POST /orders/intake``: the web store's endpoint, for a program holding an API key
(``Authorization: Bearer accord_...``) of a user with the ``orders.intake`` permission
(the ``orders_webstore`` role)."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from accord.api import Principal, runtime_of

from .intake import IntakeError, IntakeResult, receive

MAX_BODY = 1_000_000
"""Bytes: a store order of 500 lines is far below it."""


def _error(status: int, message: str, errors: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


async def intake(request: Request) -> JSONResponse:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal) or not principal.can("orders.intake"):
        return _error(403, "this key's user lacks the permission 'orders.intake'")
    if "application/json" not in request.headers.get("content-type", ""):
        return _error(415, "send the order as JSON (Content-Type: application/json)")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _error(413, f"the order is larger than {MAX_BODY} bytes")
    try:
        payload = json.loads(raw)
    except ValueError as error:
        return _error(400, f"the body is not JSON: {error}")
    session = request.state.session
    try:
        result: IntakeResult = await run_in_threadpool(
            receive, runtime_of(session), session, payload
        )
    except IntakeError as error:
        errors = [{"field": item.field, "message": item.message} for item in error.errors]
        return _error(422, f"the order was refused: {error}", errors)
    order = result.order
    return JSONResponse(
        {
            "order": order.number,
            "id": order.id,
            "state": order.state,
            "created": result.created,
            "held": result.held,
            "amount": f"{order.amount:.2f}",
            "currency": order.currency,
        },
        status_code=201 if result.created else 200,
    )
