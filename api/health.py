"""Liveness: answers without a token, with the service's time and the kind of clock it reads."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.context import now, service

blp = Blueprint("health", __name__, url_prefix="/healthz", description="Liveness")


class HealthSchema(Schema):
    """The service is up, and the time it goes by."""

    status = fields.String()
    now = fields.DateTime(metadata={"description": "the service's time (UTC)"})
    clock = fields.String(
        metadata={"description": "system, or fixed:<time> / from:<time> in tests and demos"}
    )


@blp.route("")
class Health(MethodView):
    """Liveness probe."""

    @blp.response(200, HealthSchema)
    @blp.doc(security=[])
    def get(self) -> Any:
        """Say the service is up and what time it reads (no token needed)."""
        return {"status": "ok", "now": now(), "clock": service().clock.describe()}
