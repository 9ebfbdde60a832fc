"""A schemathesis check for `make fuzz`: only a rule of the service refuses schema-valid data.

The OpenAPI document states every shape rule the schemas check (types, ranges, patterns, required
fields, unknown fields). What JSON Schema cannot state (amber below red, min_age up to max_age, an
order no longer than the law allows, a review panel's authority) is checked by the service and
refused with 422 and `"error": "InvalidInput"` naming the rule. schemathesis.toml lets a 422 pass
positive_data_acceptance; this check fails any 422 to schema-valid data that is not such a rule.
"""

from __future__ import annotations

from typing import Any

import schemathesis

SERVICE_RULE = "InvalidInput"


@schemathesis.check
def only_service_rules_refuse_valid_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schema-valid request refused with 422 names a rule of the service, not of the schema."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    body = response.json()
    if body.get("error") != SERVICE_RULE:
        raise AssertionError(
            "Schema-valid request refused by a rule the OpenAPI document does not state: "
            f"{body.get('message')}"
        )
    return None
