"""The ack wrapper every socket.io event handler goes through.

Rate-limit the connection, validate the payload with the event's model, run the handler, and
turn every way it can end into one ack: ``{"ok": true, ...}`` or
``{"error": {"code": ..., "message": ...}}``. This is the one place where the gateway catches
refusals (``Problem`` and the desk's ``DeskError``, see videoassist/errors.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from videoassist.desk import DeskError
from videoassist.errors import Problem, first_problem
from videoassist.gateway.schemas import Payload
from videoassist.service import ServiceClosed

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Payload)
Handler = Callable[[Any, str, dict[str, Any], M], Awaitable[dict[str, Any] | None]]
Ack = dict[str, Any]


def error(code: str, message: str) -> Ack:
    return {"error": {"code": code, "message": message}}


def event(model: type[M]) -> Callable[[Handler[M]], Callable[..., Awaitable[Ack]]]:
    """Validate the payload with ``model``, run the handler, turn every failure into an ack.

    The namespace the handler belongs to provides ``limiter`` (per connection) and socket.io's
    ``get_session``; the handler gets the connection's saved session (who the caller is, as
    established on connect) and the validated payload."""

    def wrap(fn: Handler[M]) -> Callable[..., Awaitable[Ack]]:
        @functools.wraps(fn)
        async def handler(self: Any, sid: str, data: Any = None) -> Ack:
            if self.limiter.take(sid):
                return error("rate_limited", "too many events; slow down")
            try:
                payload = model.model_validate({} if data is None else data)
            except ValidationError as exc:
                return error("invalid", first_problem(exc, whole="payload"))
            try:
                who = await self.get_session(sid)
                result = await fn(self, sid, who, payload)
            except (Problem, DeskError) as exc:
                return error(exc.code, exc.message)
            except ServiceClosed:
                return error("unavailable", "the service is shutting down")
            except Exception:
                logger.exception("Gateway: %s failed", fn.__name__)
                return error("internal", "something went wrong on our side")
            return {"ok": True, **(result or {})}

        return handler

    return wrap
