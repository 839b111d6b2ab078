from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from wagate.storage.db import Database

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready(request: Request) -> JSONResponse | dict[str, object]:
    database: Database = request.app.state.database
    try:
        await database.ping()
    except Exception:
        logger.exception("readiness check: the database does not answer")
        return JSONResponse({"status": "unavailable", "checks": {"database": "down"}}, 503)
    return {"status": "ok", "checks": {"database": "ok"}}
