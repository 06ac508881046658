"""Control: an app's webhook subscription (with Xero's Intent to Receive), its deliveries, flush and replay.

Registering, changing the URL and re-enabling run Intent to Receive before
answering, so the answer carries the subscription's status and reason.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from .control_common import ControlError, app_or_404, control_blueprint, dict_body, ok
from .responses import current_state

bp = control_blueprint("webhooks")
_OPTIONS = ("categories", "batch_delay", "timeout")


def _options(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data.get(name) for name in _OPTIONS}


@bp.post("/apps/<client_id>/webhook")
def register(client_id: str) -> Response:
    data = dict_body()
    app_or_404(client_id)
    if not data.get("url"):
        raise ControlError(400, "url is required")
    state = current_state()
    state.webhooks.subscribe(client_id, data["url"], data.get("signing_key"), **_options(data))
    state.dispatcher.verify(client_id)
    return ok(state.webhooks.subscription(client_id), 201)


@bp.patch("/apps/<client_id>/webhook")
def update(client_id: str) -> Response:
    data = dict_body()
    state = current_state()
    enabled = data.get("enabled")
    if state.webhooks.update(client_id, data.get("url"), data.get("signing_key"),
                             None if enabled is None else bool(enabled), **_options(data)):
        state.dispatcher.verify(client_id)
    return ok(state.webhooks.subscription(client_id))


@bp.get("/apps/<client_id>/webhook")
def read(client_id: str) -> Response:
    return ok(current_state().webhooks.subscription(client_id))


@bp.delete("/apps/<client_id>/webhook")
def remove(client_id: str) -> Response:
    current_state().webhooks.remove(client_id)
    return ok({"removed": True})


@bp.get("/webhooks/deliveries")
def deliveries() -> Response:
    return ok(current_state().webhooks.deliveries(request.args.get("client_id"), request.args.get("outcome")))


@bp.get("/webhooks/deliveries/<delivery_id>")
def delivery(delivery_id: str) -> Response:
    return ok(current_state().webhooks.delivery(delivery_id))


@bp.route("/webhooks/sender", methods=["GET", "PUT"])
def sender() -> Response:
    """Pause or resume the background sender (``{"paused": true}``); flush and replay always send."""
    dispatcher = current_state().dispatcher
    if request.method == "PUT":
        dispatcher.paused = bool(dict_body().get("paused"))
    return ok({"paused": dispatcher.paused})


@bp.post("/webhooks/flush")
def flush() -> Response:
    """Send every queued event now (no batching delay) and every delivery due; answers when done.

    Answers with the deliveries this call sent; the background sender may have sent
    others just before. Either way nothing queued or due is left unsent.
    """
    state = current_state()
    sent = state.dispatcher.flush(dict_body().get("client_id"))
    return ok({"deliveries": [state.webhooks.delivery(i) for i in sent]})


@bp.post("/webhooks/deliveries/<delivery_id>/replay")
def replay(delivery_id: str) -> Response:
    state = current_state()
    return ok(state.webhooks.delivery(state.dispatcher.replay(delivery_id)), 201)
