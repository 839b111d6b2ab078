"""Streaming CSV both ways: records split from a byte stream as it arrives
(quoted fields may span lines), and text written a batch at a time, so a
large file is never held in memory."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass


@dataclass(slots=True)
class Record:
    line: int  # the file line the record starts on (the header is line 1)
    values: list[str]


async def records(chunks: AsyncIterable[bytes], batch: int = 1000) -> AsyncIterator[list[Record]]:
    """Batches of parsed records; a UTF-8 BOM is dropped."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    pending = ""  # an incomplete line
    record_lines: list[str] = []  # lines of a record whose quotes are still open
    quotes = 0
    line_number = 0
    start = 1
    out: list[Record] = []

    def finish() -> None:
        text = "".join(record_lines)
        record_lines.clear()
        for values in csv.reader([text]):
            if any(value.strip() for value in values):
                out.append(Record(start, values))

    async def lines() -> AsyncIterator[str]:
        nonlocal pending
        async for chunk in chunks:
            pending += decoder.decode(chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line + "\n"
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending

    async for line in lines():
        line_number += 1
        if not record_lines:
            start = line_number
        record_lines.append(line)
        quotes += line.count('"')
        if quotes % 2 == 0:  # every quote closed: the record ends here
            quotes = 0
            finish()
            if len(out) >= batch:
                yield out
                out = []
    if record_lines:
        finish()
    if out:
        yield out


async def csv_text(
    header: list[str], rows: AsyncIterable[list[object]], batch: int = 1000
) -> AsyncIterator[str]:
    """CSV text for a streamed response, a batch of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    count = 0
    async for row in rows:
        writer.writerow(row)
        count += 1
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
