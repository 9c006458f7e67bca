"""Mount point for the gateway, which needs the database and the door: it is built in the app's lifespan."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from api.ogc.gateway import OGCGateway
from layers.catalog import Layer
from sdi.callers import Door
from sdi.settings import Settings


class LazyGateway:
    """Stands at ``/ogc`` from app creation; the real gateway is bound at start-up."""

    def __init__(self) -> None:
        self.gateway: OGCGateway | None = None

    def bind(self, settings: Settings, engine: Engine, door: Door[Layer]) -> None:
        self.gateway = OGCGateway(settings, engine, door)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.gateway is None:
            raise RuntimeError("the OGC API is bound in the application lifespan")
        await self.gateway(scope, receive, send)
