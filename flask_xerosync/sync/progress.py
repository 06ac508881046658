"""What a run reports while it goes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report: ``done`` of ``total`` records of ``stage`` (``total`` None when not
    known yet), the counts so far (stage -> outcome -> number) and the API calls made."""

    stage: str
    done: int
    total: int | None
    counts: dict[str, dict[str, int]]
    api_calls: int
