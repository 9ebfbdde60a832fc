"""Liveness: answers without a token."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

blp = Blueprint("health", __name__, url_prefix="/healthz", description="Liveness")


class HealthSchema(Schema):
    """The service is up."""

    status = fields.String()


@blp.route("")
class Health(MethodView):
    """Liveness probe."""

    @blp.response(200, HealthSchema)
    @blp.doc(security=[])
    def get(self) -> Any:
        """Say the service is up (no token needed)."""
        return {"status": "ok"}
