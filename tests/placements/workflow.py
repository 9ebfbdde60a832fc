"""Building blocks for workflow tests: synthetic requests, offers and a unit with free beds."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from placements import offers, requests
from placements.auth import Actor
from placements.availability import AvailabilityUpdate, update_availability
from placements.config import Settings
from placements.db import Sessions
from placements.models import Unit
from placements.units import get_unit

SETTINGS = Settings()
GROUNDS = ["harm_to_self", "absconding_with_harm"]
ADMIN = Actor("coordinator", "admin")
SOUTHWARK = Actor("dcs-southwark", "director", authority_id="southwark")
SURREY = Actor("dcs-surrey", "director", authority_id="surrey")

AUTHORITIES = {
    "southwark": (51.474, -0.081),
    "surrey": (51.231, -0.196),
    "rotherham": (53.430, -1.357),
    "lancashire": (53.763, -2.703),
    "cardiff": (51.481, -3.179),
    "birmingham": (52.480, -1.903),
}


def welfare_facts(reference: str, **changes: object) -> requests.RequestFacts:
    """A plain welfare request for a 15-year-old girl with no needs or flags."""
    facts = requests.RequestFacts(
        case_reference=reference, age=15, sex="F", legal_basis="welfare", grounds=("harm_to_self",)
    )
    return requests.RequestFacts(**{**facts.__dict__, **changes})  # type: ignore[arg-type]


def director(authority_id: str) -> Actor:
    """A director of the authority."""
    return Actor(f"dcs-{authority_id}", "director", authority_id=authority_id)


def synthetic_facts(
    rng: random.Random, n: int, *, now: datetime
) -> tuple[str, requests.RequestFacts]:
    """A random, realistic request and the authority making it."""
    authority = rng.choice(sorted(AUTHORITIES))
    age = rng.choice([12, 13, 14, 14, 15, 15, 15, 16, 16, 17])
    basis = rng.choices(["welfare", "remand", "sentence"], [6, 2, 1])[0]
    flags = rng.sample(["cse_victim", "sexual_harm_risk", "violence_risk", "absconding_risk"],
                       rng.choice([0, 1, 1, 2]))  # fmt: skip
    if {"cse_victim", "sexual_harm_risk"} <= set(flags):
        flags.remove("sexual_harm_risk")
    facts = requests.RequestFacts(
        case_reference=f"SYN-{n:04d}",
        age=age,
        sex=rng.choice(["F", "M"]),
        legal_basis=basis,
        grounds=(rng.choice(GROUNDS),) if basis == "welfare" else (),
        needs=tuple(rng.sample(["trauma", "mental_health", "self_harm"], rng.choice([0, 0, 1]))),
        flags=tuple(flags),
        under_13_approval="SoS-approval-0001" if age < 13 else None,
        authority=(
            requests.LegalAuthority("remand", now - timedelta(days=10), now + timedelta(days=17))
            if basis == "remand"
            else requests.LegalAuthority("sentence", now - timedelta(days=10),
                                         now + timedelta(days=120))
            if basis == "sentence" else requests.LegalAuthority()
        ),
    )  # fmt: skip
    return authority, facts


def set_free_beds(sessions: Sessions, unit_id: str, free: int, *, now: datetime) -> None:
    """Make the unit fully staffed with exactly `free` free beds and no flagged residents."""
    unit = get_unit(sessions, ADMIN, unit_id, settings=SETTINGS, now=now)
    occupied = unit.approved_beds - unit.reserved_beds - free
    update_availability(
        sessions, ADMIN, unit_id, AvailabilityUpdate(unit.approved_beds, occupied),
        expected_version=unit.version, settings=SETTINGS, now=now,
    )  # fmt: skip


def offered_request(sessions: Sessions, unit_id: str, reference: str, *, now: datetime) -> str:
    """A new waiting request offered to one unit; returns the offer id."""
    request = requests.create(sessions, SOUTHWARK, welfare_facts(reference), now=now)
    made = offers.create_offers(
        sessions, SOUTHWARK, request.id, offers.OfferChoice(unit_ids=(unit_id,)),
        settings=SETTINGS, now=now,
    )  # fmt: skip
    return made[0].id


def counts(sessions: Sessions, unit_id: str) -> tuple[int, int, int]:
    """A unit's (occupied, reserved, free) beds."""
    with sessions.read() as session:
        unit = session.get(Unit, unit_id)
        assert unit is not None
        free = unit.staffed_beds - unit.occupied_beds - unit.reserved_beds
        return unit.occupied_beds, unit.reserved_beds, free
