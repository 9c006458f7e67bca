"""Request bodies at the ASGI level, for the gateway (which sits in front of pygeoapi's app)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from starlette.types import Message, Receive, Scope


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it grows past ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def cql2_json_in_query(scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
    """``?filter-lang=cql2-json&filter={...}`` on GET: pygeoapi only reads CQL2 JSON from a
    request body, so move the filter there (clients such as QGIS and GDAL send it in the URL)."""
    if scope["method"] != "GET" or b"cql2-json" not in scope.get("query_string", b""):
        return scope, receive
    params = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
    body = next((v for k, v in params if k == "filter"), None)
    if body is None:
        return scope, receive
    rest = [(k, v) for k, v in params if k != "filter"]
    scope = {**scope, "query_string": urlencode(rest).encode()}
    sent = False

    async def with_body() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body.encode(), "more_body": False}
        return await receive()

    return scope, with_body
