"""Control: sandbox time (read it, change its speed, jump it forward)."""

from __future__ import annotations

from flask import Response

from .control_common import control_blueprint, dict_body, ok
from .responses import current_state

bp = control_blueprint("clock")


def _clock_json() -> Response:
    clock = current_state().clock
    return ok({"now": clock.now().isoformat(), "time_scale": clock.time_scale})


@bp.get("/clock")
def clock() -> Response:
    return _clock_json()


@bp.put("/clock")
def set_clock() -> Response:
    data = dict_body()
    if data.get("time_scale") is not None:
        current_state().clock.set_time_scale(float(data["time_scale"]))
    return _clock_json()


@bp.post("/clock/advance")
def advance_clock() -> Response:
    current_state().clock.advance(float(dict_body().get("seconds", 0)))
    return _clock_json()
