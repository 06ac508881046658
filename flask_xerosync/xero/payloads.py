"""Request bodies: exact JSON, deterministic Idempotency-Keys, and batches that fit Xero's limits."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .dates import format_date

MAX_BODY_BYTES = 3_500_000
"""Xero refuses a POST over 3.5 MB; 3.5 million bytes keeps a margin under either reading of MB."""

_DECIMAL_MARK = "\u0000xs-decimal:"
_DECIMAL_TOKEN = re.compile(r'"\\u0000xs-decimal:(-?[0-9]+(?:\.[0-9]+)?)"')


def _encode_extra(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send the non-finite amount {value} to Xero")
        return _DECIMAL_MARK + format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return format_date(value)
    raise TypeError(f"cannot send a {type(value).__name__} to Xero as JSON")


def encode_json(payload: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces) where ``Decimal`` is written as the exact number,
    so money is never passed through a float and equal payloads give equal bytes."""
    text = json.dumps(payload, default=_encode_extra, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _DECIMAL_TOKEN.sub(r"\1", text).encode("utf-8")


def decode_json(content: bytes) -> Any:
    """Xero's JSON with amounts kept as ``Decimal``."""
    return json.loads(content, parse_float=Decimal)


def idempotency_key(tenant_id: str, method: str, path_and_query: str, body: bytes) -> str:
    """``xs-`` + SHA-256 of what the request means: the same write gets the same key on every
    retry (so Xero replays a committed one instead of applying it twice), a different write a
    different key. 67 characters, under Xero's 128."""
    digest = hashlib.sha256()
    for part in (tenant_id, method.upper(), path_and_query):
        digest.update(part.encode("utf-8"))
        digest.update(b"|")
    digest.update(body)
    return "xs-" + digest.hexdigest()


@dataclass(frozen=True)
class Batch:
    """Records ``start`` … ``start + len(records) - 1`` of a write and the body that sends them.

    ``oversize`` is the encoded size of a single record too large to send even alone (then
    ``body`` is empty and the caller reports the record instead of sending it).
    """

    start: int
    records: list[dict[str, Any]]
    body: bytes
    oversize: int = 0


def split_batches(
    collection: str, records: Sequence[dict[str, Any]], *, batch_size: int, max_bytes: int = MAX_BODY_BYTES
) -> Iterator[Batch]:
    """Consecutive batches of at most ``batch_size`` records whose body stays under ``max_bytes``."""
    wrapper = len(encode_json({collection: []}))
    start, batch, size = 0, [], wrapper
    for index, record in enumerate(records):
        encoded = len(encode_json(record))
        if wrapper + encoded > max_bytes:
            if batch:
                yield Batch(start, batch, encode_json({collection: batch}))
            yield Batch(index, [record], b"", oversize=wrapper + encoded)
            start, batch, size = index + 1, [], wrapper
            continue
        if batch and (len(batch) >= batch_size or size + 1 + encoded > max_bytes):
            yield Batch(start, batch, encode_json({collection: batch}))
            start, batch, size = index, [], wrapper
        size += encoded + (1 if batch else 0)
        batch.append(record)
    if batch:
        yield Batch(start, batch, encode_json({collection: batch}))
