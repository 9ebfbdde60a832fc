"""The controlled vocabularies: specialisms, risk and vulnerability flags, codes."""

from __future__ import annotations

NATIONS = ("england", "wales")
PROVIDER_STATUSES = ("active", "paused", "closed")
DESIGNATIONS = ("welfare", "justice", "mixed")
SEXES = ("F", "M")
OUT_OF_USE_REASONS = ("staffing", "refurbishment", "no_registered_manager", "other")
SPECIALISMS = (
    "cse",
    "trauma",
    "mental_health",
    "learning_disability",
    "substance_misuse",
    "self_harm",
    "harmful_sexual_behaviour",
    "autism",
)
FLAGS = (
    "cse_victim",
    "sexual_harm_risk",
    "violence_risk",
    "gang_affiliation",
    "absconding_risk",
    "self_harm",
    "substance_misuse",
    "offending_history",
)
LEGAL_BASES = ("welfare", "remand", "sentence")
GROUNDS = ("absconding_with_harm", "harm_to_self", "harm_to_others")
ORDER_KINDS = ("none", "interim_order", "full_order", "remand", "sentence")
# What a court order recorded on a request may be ("none" is the absence of one).
COURT_ORDER_KINDS = ("interim_order", "full_order", "remand", "sentence")
REQUEST_STATUSES = ("waiting", "offered", "reserved", "placed", "discharged", "withdrawn")
OFFER_STATUSES = ("pending", "accepted", "declined", "expired", "cancelled", "released")
# Why the service cancelled an offer: the placer withdrew the request, another home accepted it,
# or the request's new facts put the unit out of reach.
CANCEL_REASONS = ("withdrawn_by_placer", "accepted_elsewhere", "no_longer_eligible")
DECLINE_REASONS = (
    "no_staffed_bed",
    "mix_of_residents",
    "needs_not_met",
    "risk_to_others",
    "age_or_sex",
    "location",
    "other",
)
# Why a home gives back an offer it had accepted, before the child arrives.
RELEASE_REASONS = (
    "no_staffed_bed",
    "mix_of_residents",
    "needs_not_met",
    "risk_to_others",
    "emergency_admission",
    "other",
)
