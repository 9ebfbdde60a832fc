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
