"""Mount point for the gateway, which needs the database: it is built in the app's lifespan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from sdi.settings import Settings

if TYPE_CHECKING:
    from api.ogc.gateway import OGCGateway


class LazyGateway:
    """Stands at ``/ogc`` from app creation; the real gateway is bound at start-up."""

    def __init__(self) -> None:
        self.gateway: OGCGateway | None = None

    def bind(self, settings: Settings, engine: Engine) -> None:
        from api.ogc.gateway import OGCGateway

        self.gateway = OGCGateway(settings, engine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.gateway is None:
            raise RuntimeError("the OGC API is bound in the application lifespan")
        await self.gateway(scope, receive, send)
