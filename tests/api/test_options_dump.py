"""The options' response: the schema's quick pick gives what marshmallow's own dump gives."""

from __future__ import annotations

import json

from marshmallow import Schema

from api.requests import OptionsSchema
from placements import matching, requests
from placements.db import Sessions
from tests.conftest import NOW
from tests.placements.workflow import SETTINGS, SOUTHWARK, set_free_beds, welfare_facts


def test_the_options_pick_gives_what_marshmallows_dump_gives(seeded: Sessions) -> None:
    set_free_beds(seeded, "clare-lodge/nene", 2, now=NOW)
    facts = welfare_facts("DUMP-1", flags=("cse_victim",), max_distance_km=250.0)
    made = requests.create(seeded, SOUTHWARK, facts, now=NOW)
    view = matching.options(seeded, SOUTHWARK, made.id, settings=SETTINGS, now=NOW)
    assert view.options and view.excluded  # both kinds of entry are compared
    schema = OptionsSchema()
    picked = schema.dump(view)
    # As JSON, so that 12 and 12.0 differ (as they do in the response body)
    assert json.dumps(picked, sort_keys=True) == json.dumps(
        Schema.dump(schema, view), sort_keys=True
    )
    assert set(picked["excluded"][0]) == {"unit_id", "unit_name", "provider_name", "reasons"}
