"""Shapes every face of the API shares: the success envelope and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer

T = TypeVar("T")

# Routers carry the full prefix themselves, so the route a request matched (in
# logs and metrics) is the path a client called.
API_PREFIX = "/api/v1"


def format_timestamp(value: datetime) -> str:
    """``2025-12-14T00:00:00.000Z``: the form the SAK reference shows."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


ApiDateTime = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]


def assume_utc(value: datetime) -> datetime:
    """A date or a time given without a zone is read as UTC, as every stored time is."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# A time a client gives (a filter such as ``since``): zoned, UTC when it names no zone.
GivenDateTime = Annotated[datetime, AfterValidator(assume_utc)]

# The largest offset a listing takes: past it there is nothing to skip to, and a
# 64-bit database integer would overflow.
MAX_OFFSET = 2**31 - 1


class Envelope(BaseModel, Generic[T]):
    success: Literal[True] = True
    data: T


class MessageEnvelope(BaseModel):
    success: Literal[True] = True
    message: str


class RequestModel(BaseModel):
    """Request bodies: unknown fields are ignored, strings are stripped."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")


def ok(data: T) -> Envelope[T]:
    return Envelope[T](data=data)
