"""Fault injection per organisation: error responses, latency and dropped responses."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})
ERROR_STATUSES = (500, 503, 429)


@dataclass
class FaultPlan:
    """What goes wrong for one organisation.

    ``fail_next`` (a list of statuses) is consumed first, one status per call;
    otherwise a share ``error_rate`` of calls fails with a status drawn from
    ``error_statuses``. ``drop_next`` / ``drop_rate`` apply to writes only: the
    write is committed, then the connection is closed without a response.
    """

    error_rate: float = 0.0
    error_statuses: list[int] = field(default_factory=lambda: list(ERROR_STATUSES))
    fail_next: list[int] = field(default_factory=list)
    latency_ms: int = 0
    drop_next: int = 0
    drop_rate: float = 0.0
    methods: list[str] | None = None
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random)

    def applies_to(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    def as_dict(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "error_statuses": list(self.error_statuses),
            "fail_next": list(self.fail_next),
            "latency_ms": self.latency_ms,
            "drop_next": self.drop_next,
            "drop_rate": self.drop_rate,
            "methods": self.methods,
            "seed": self.seed,
        }


def parse_plan(data: dict[str, Any]) -> FaultPlan:
    """Build a plan from control-surface JSON, rejecting values that make no sense."""
    plan = FaultPlan()
    plan.error_rate = float(data.get("error_rate", 0.0))
    if not 0.0 <= plan.error_rate <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    statuses = data.get("error_statuses") or list(ERROR_STATUSES)
    plan.error_statuses = [int(s) for s in statuses]
    plan.fail_next = [int(s) for s in data.get("fail_next") or []]
    for status in plan.error_statuses + plan.fail_next:
        if status < 400 or status > 599:
            raise ValueError(f"fault status {status} is not an error status")
    plan.latency_ms = int(data.get("latency_ms", 0))
    plan.drop_next = int(data.get("drop_next", 0))
    plan.drop_rate = float(data.get("drop_rate", 0.0))
    if not 0.0 <= plan.drop_rate <= 1.0:
        raise ValueError("drop_rate must be between 0 and 1")
    methods = data.get("methods")
    plan.methods = [str(m).upper() for m in methods] if methods else None
    plan.seed = data.get("seed")
    plan.rng = random.Random(plan.seed)
    return plan


@dataclass
class FaultOutcome:
    status: int | None = None
    latency_ms: int = 0
    drop: bool = False


class FaultBook:
    """All organisations' plans, consulted once per API call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: dict[str, FaultPlan] = {}

    def reset(self) -> None:
        with self._lock:
            self._plans.clear()

    def set(self, tenant_id: str, plan: FaultPlan) -> None:
        with self._lock:
            self._plans[tenant_id] = plan

    def clear(self, tenant_id: str) -> None:
        with self._lock:
            self._plans.pop(tenant_id, None)

    def get(self, tenant_id: str) -> dict[str, Any] | None:
        with self._lock:
            plan = self._plans.get(tenant_id)
            return plan.as_dict() if plan else None

    def draw(self, tenant_id: str, method: str) -> FaultOutcome:
        with self._lock:
            plan = self._plans.get(tenant_id)
            if plan is None or not plan.applies_to(method):
                return FaultOutcome()
            outcome = FaultOutcome(latency_ms=plan.latency_ms)
            if plan.fail_next:
                outcome.status = plan.fail_next.pop(0)
                return outcome
            if plan.error_rate and plan.rng.random() < plan.error_rate:
                outcome.status = plan.rng.choice(plan.error_statuses)
                return outcome
            if method in WRITE_METHODS:
                if plan.drop_next > 0:
                    plan.drop_next -= 1
                    outcome.drop = True
                elif plan.drop_rate and plan.rng.random() < plan.drop_rate:
                    outcome.drop = True
            return outcome
