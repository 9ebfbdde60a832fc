"""Pages of a placing authority's director or social worker (role 'director'): the authority's
requests with their statutory clocks, most urgent first; starting a request; a request's facts,
clocks, ranked options (each unit's score, and why every other unit cannot take the child),
offers, orders, admission, discharge and withdrawal; the children's review meetings.

Every page asks the same use cases as the API (api/requests.py, api/admissions.py): another
authority's request is not found (404), exactly as an unknown one, and a form the use case
refuses is shown again with each rule's error at its field (422), or what changed (409).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice

from api.context import now, service
from api.pages import errors, guard
from api.pages.filters import UK, uk_time
from api.pages.guard import for_roles
from api.pages.panel import clock_time
from api.requests import CASE_REFERENCE
from placements import (
    admissions,
    authorities,
    casefile,
    matching,
    offers,
    requests,
    statutory,
    units,
)
from placements.errors import Conflict, InvalidInput, InvalidTransition
from placements.offers import OfferView
from placements.requests import LegalAuthority, RequestFacts, RequestView, Zone
from placements.units import UnitView
from placements.vocabulary import FLAGS, GROUNDS, LEGAL_BASES, ORDER_KINDS, SPECIALISMS

blp = Blueprint("director", __name__, url_prefix="/director")
# The role's service navigation: (text, endpoint).
NAVIGATION = [
    ("Requests", "pages.director.dashboard"),
    ("Request a placement", "pages.director.new_request"),
    ("Reviews", "pages.director.reviews"),
]

# Words for the codes the pages show and the forms offer.
SEXES = {"F": "Female", "M": "Male"}
CHILD = {"F": "A girl", "M": "A boy"}
CHILDREN = {"F": "girls", "M": "boys"}
LEGAL_BASIS_WORDS = {"welfare": "Welfare", "remand": "Remand", "sentence": "Sentence"}
LEGAL_BASIS_HINTS = {
    "welfare": "Secure accommodation to keep the child safe (section 25 of the Children Act 1989, "
    "or section 119 of the Social Services and Well-being (Wales) Act 2014)",
    "remand": "Remanded to youth detention accommodation by a court",
    "sentence": "Serving a custodial sentence",
}
GROUND_WORDS = {
    "absconding_with_harm": "Has a history of absconding, and is likely to abscond from any "
    "other accommodation and suffer significant harm if they do",
    "harm_to_self": "Is likely to injure themselves if kept in any other accommodation",
    "harm_to_others": "Is likely to injure other people if kept in any other accommodation",
}
NEED_WORDS = {
    "cse": "CSE",
    "trauma": "trauma",
    "mental_health": "mental health",
    "learning_disability": "learning disability",
    "substance_misuse": "substance misuse",
    "self_harm": "self-harm",
    "harmful_sexual_behaviour": "harmful sexual behaviour",
    "autism": "autism",
}
NEED_LABELS = {**{code: words.capitalize() for code, words in NEED_WORDS.items()},
               "cse": "Child sexual exploitation (CSE)"}  # fmt: skip
FLAG_WORDS = {
    "cse_victim": "Victim of child sexual exploitation",
    "sexual_harm_risk": "Risk of sexual harm to others",
    "violence_risk": "Risk of violence",
    "gang_affiliation": "Gang affiliation",
    "absconding_risk": "Risk of absconding",
    "self_harm": "Risk of self-harm",
    "substance_misuse": "Misuses drugs or alcohol",
    "offending_history": "History of offending",
}
ORDER_WORDS = {
    "none": "No order yet",
    "interim_order": "Interim secure accommodation order",
    "full_order": "Secure accommodation order",
    "remand": "Remand to youth detention accommodation",
    "sentence": "Custodial sentence",
}
STATUS_TAGS = {
    "waiting": ("Waiting", "govuk-tag--yellow"),
    "offered": ("Offered", "govuk-tag--blue"),
    "reserved": ("Bed reserved", "govuk-tag--turquoise"),
    "placed": ("Placed", "govuk-tag--green"),
    "discharged": ("Discharged", "govuk-tag--grey"),
    "withdrawn": ("Withdrawn", "govuk-tag--grey"),
}
OFFER_TAGS = {
    "pending": ("Waiting for an answer", "govuk-tag--blue"),
    "accepted": ("Accepted", "govuk-tag--green"),
    "declined": ("Declined", "govuk-tag--red"),
    "expired": ("Expired", "govuk-tag--grey"),
    "cancelled": ("Cancelled", "govuk-tag--grey"),
    "released": ("Given back", "govuk-tag--orange"),
}
MEETING_TAGS = {
    "called": ("Called", "govuk-tag--blue"),
    "overdue": ("Overdue", "govuk-tag--red"),
    "held": ("Held", "govuk-tag--green"),
    "cancelled": ("Cancelled", "govuk-tag--grey"),
}
DECLINE_WORDS = {
    "no_staffed_bed": "No staffed bed",
    "mix_of_residents": "The mix of residents",
    "needs_not_met": "Cannot meet the child's needs",
    "risk_to_others": "Risk to other children",
    "age_or_sex": "The child's age or sex",
    "location": "Location",
    "emergency_admission": "An emergency admission",
    "other": "Other",
}
CANCEL_WORDS = {
    "withdrawn_by_placer": "the request was withdrawn",
    "accepted_elsewhere": "another home accepted",
    "no_longer_eligible": "the request's facts changed and the unit no longer fits",
}
RECOMMENDATION_WORDS = {
    "continue": "Continue the placement",
    "end": "End the placement",
    "alternative_accommodation": "Move the child to other accommodation",
}
# The parts of an option's score (solver/score.py), in words.
SCORE_PARTS = {
    "nearness": "Near home",
    "specialisms": "Other specialisms",
    "acceptance": "Likely to accept",
    "waiting": "Time waiting",
    "justice_mix": "Youth justice residents",
}
# Why a unit cannot take the child, one sentence per rule of the matcher (solver/rules.py); the
# fields are filled from the child's request and the unit, when the unit is known.
EXCLUSIONS = {
    "no_free_bed": "No free bed: every staffed bed is occupied or reserved",
    "sex": "{child}: this unit takes {takes} only",
    "age": "Aged {age}: this unit takes children aged {min_age} to {max_age}",
    "designation": "{basis}: this unit takes {designation} placements only",
    "needs": "Needs {needs} support: not offered by this unit",
    "declined": "{home} has declined this child already",
    "too_far": "Further from home than the {max_distance} km you allowed",
    "exclusion_zone": "Inside the area the child must be kept away from",
    "mix_conflict": "A child living there cannot safely live with this child: their risk flags "
    "cannot be mixed",
}
# The same sentences when the unit is not known (its home closed since): no unit details.
EXCLUSIONS_IN_GENERAL = {
    "sex": "Does not take {children}",
    "age": "Does not take children aged {age}",
    "designation": "Does not take {basis_lower} placements",
    "needs": "Does not offer the support the child needs",
}
BASIS_PLACEMENT = {
    "welfare": "A welfare placement",
    "remand": "A child on remand",
    "sentence": "A child serving a sentence",
}
DESIGNATION_WORDS = {"welfare": "welfare", "justice": "youth justice", "mixed": "any"}
OFFERABLE = ("waiting", "offered")
UNFINISHED = ("waiting", "offered", "reserved", "placed")
CLOSED = ("withdrawn", "discharged")
CLOSED_SHOWN = 10
READ_PAGE = 100  # the largest page list_requests is asked for (the API's limit)
READ_PAGES = 50  # 5000 open requests: far beyond any authority
REVIEWS_PAGE = 20
TOP = 3
LATEST = datetime.max.replace(tzinfo=UTC)
CASE_PATTERN = re.compile(str(CASE_REFERENCE.regex.pattern))  # the API's rule, once
LIMIT = re.compile(r"\((?P<limit>[^)]+)\): (?P<day>\d{4}-\d{2}-\d{2})")


def capital(message: str) -> str:
    """A service's message as a sentence: its first letter a capital."""
    return message[:1].upper() + message[1:]


# Forms.


def choices(words: dict[str, str]) -> list[SelectChoice]:
    """A field's choices: each code with its words."""
    return [SelectChoice(code, label) for code, label in words.items()]


class ButtonForm(FlaskForm):  # type: ignore[misc]
    """A button and the CSRF token."""


class RequestForm(FlaskForm):  # type: ignore[misc]
    """Every fact of a new request a person gives (fields in the order of the page, so the error
    summary lists them in that order)."""

    idempotency_key = HiddenField()
    case_reference = StringField("Case reference")
    age = StringField("Age")
    sex = RadioField("Sex", choices=choices(SEXES), validate_choice=False)
    legal_basis = RadioField(
        "Legal basis", choices=choices(LEGAL_BASIS_WORDS), validate_choice=False
    )
    grounds = SelectMultipleField(choices=choices(GROUND_WORDS), validate_choice=False)
    needs = SelectMultipleField(choices=choices(NEED_LABELS), validate_choice=False)
    flags = SelectMultipleField(choices=choices(FLAG_WORDS), validate_choice=False)
    under_13_approval = StringField("Approval reference for a child under 13")
    home_lat = StringField("Latitude")
    home_lon = StringField("Longitude")
    max_distance_km = StringField("Furthest distance from home, in kilometres (optional)")
    zone_lat = StringField("Latitude")
    zone_lon = StringField("Longitude")
    zone_radius_km = StringField("Radius, in kilometres")
    authority_kind = RadioField(
        "Legal authority", choices=choices(ORDER_WORDS), validate_choice=False
    )
    authority_granted_day = StringField("Day")
    authority_granted_month = StringField("Month")
    authority_granted_year = StringField("Year")
    authority_expires_day = StringField("Day")
    authority_expires_month = StringField("Month")
    authority_expires_year = StringField("Year")
    authority_renewal = BooleanField("This order renews an earlier order")
    needed_by_day = StringField("Day")
    needed_by_month = StringField("Month")
    needed_by_year = StringField("Year")


class OrderForm(FlaskForm):  # type: ignore[misc]
    """A new or renewed court order."""

    kind = RadioField("Kind of order", choices=[], validate_choice=False)
    granted_day = StringField("Day")
    granted_month = StringField("Month")
    granted_year = StringField("Year")
    expires_day = StringField("Day")
    expires_month = StringField("Month")
    expires_year = StringField("Year")
    renewal = BooleanField("This order renews an earlier order")


class MomentForm(FlaskForm):  # type: ignore[misc]
    """When something happened: just now, or a date and time given."""

    when = RadioField(
        "When",
        choices=choices({"now": "Just now", "earlier": "At another time"}),
        validate_choice=False,
    )
    at_day = StringField("Day")
    at_month = StringField("Month")
    at_year = StringField("Year")
    at_time = StringField("Time")


class DischargeForm(MomentForm):
    """When the child left, and where to."""

    destination = StringField("Where did the child go?")


@dataclass
class Problems:
    """A page's errors by field id, for the error summary of a form that is not a FlaskForm."""

    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        """One more error at a field."""
        self.errors.setdefault(name, []).append(message)


def add_error(form: FlaskForm, name: str, message: str) -> None:
    """One more error at a field (the error summary links to it)."""
    found = form[name]
    found.errors = [*found.errors, message]


# Reading the answers of a form.


def text(form: FlaskForm, name: str) -> str:
    """A field's answer, without spaces around it."""
    return str(form[name].data or "").strip()


def whole_number(form: FlaskForm, name: str, label: str, low: int, high: int, *,
                 example: int) -> int | None:  # fmt: skip
    """A whole number between low and high, or None with an error at the field."""
    answer = text(form, name)
    if not answer:
        add_error(form, name, f"Enter the child's {label.lower()}")
        return None
    if not re.fullmatch(r"\d{1,4}", answer):
        add_error(form, name, f"{label} must be a whole number, like {example}")
        return None
    if not low <= int(answer) <= high:
        add_error(form, name, f"{label} must be between {low} and {high}")
        return None
    return int(answer)


def number(form: FlaskForm, name: str, label: str, low: float, high: float) -> float | None:
    """A number between low and high, or None (no answer, or an error at the field)."""
    answer = text(form, name)
    if not answer:
        return None
    try:
        found = float(answer)
    except ValueError:
        found = float("nan")
    if not low <= found <= high:  # NaN is never in range
        add_error(form, name, f"{label} must be a number between {low:g} and {high:g}")
        return None
    return found


def day_of(form: FlaskForm, prefix: str, label: str, *, required: bool) -> date | None:
    """A date from the day, month and year boxes, or None (no answer, or an error at the day)."""
    parts = {part: text(form, f"{prefix}_{part}") for part in ("day", "month", "year")}
    missing = [part for part, answer in parts.items() if not answer]
    if len(missing) == 3:
        if required:
            add_error(form, f"{prefix}_day", f"Enter the {label.lower()}")
        return None
    if missing:
        add_error(form, f"{prefix}_day", f"{label} must include a {' and a '.join(missing)}")
        return None
    found = None
    if all(answer.isdigit() for answer in parts.values()) and len(parts["year"]) == 4:
        try:
            found = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
        except ValueError:
            found = None
    if found is None or not 2000 <= found.year <= 2100:
        add_error(form, f"{prefix}_day", f"{label} must be a real date, like 27 3 2026")
        return None
    return found


def start_of(day: date | None) -> datetime | None:
    """The first moment of a day in UK time."""
    return datetime.combine(day, time(0, 0), tzinfo=UK) if day else None


def end_of(day: date | None) -> datetime | None:
    """The last minute of a day in UK time."""
    return datetime.combine(day, time(23, 59), tzinfo=UK) if day else None


def date_fields(moment: datetime | None, prefix: str) -> dict[str, str]:
    """A moment's UK date as the answers of a date input."""
    if moment is None:
        return {}
    local = moment.astimezone(UK)
    return {f"{prefix}_day": str(local.day), f"{prefix}_month": str(local.month),
            f"{prefix}_year": str(local.year)}  # fmt: skip


def chosen(form: FlaskForm, name: str, allowed: tuple[str, ...], message: str) -> tuple[str, ...]:
    """The boxes ticked, each from the vocabulary (an error at the field otherwise)."""
    picked = tuple(dict.fromkeys(str(v) for v in form[name].data or ()))
    if any(v not in allowed for v in picked):
        add_error(form, name, message)
        return ()
    return picked


def one_of(form: FlaskForm, name: str, allowed: tuple[str, ...], message: str) -> str | None:
    """The radio chosen, or None with an error at the field."""
    answer = form[name].data
    if answer not in allowed:
        add_error(form, name, message)
        return None
    return str(answer)


def facts_of(form: RequestForm) -> RequestFacts | None:
    """The form's answers as a request's facts, or None with an error at each wrong answer."""
    reference = text(form, "case_reference")
    if not reference:
        add_error(form, "case_reference", "Enter the case reference")
    elif not CASE_PATTERN.match(reference):
        add_error(form, "case_reference", "Case reference must be 64 characters or fewer, of "
                  "letters, digits and / _ . - only (never the child's name)")  # fmt: skip
    age = whole_number(form, "age", "Age", 10, 17, example=15)
    sex = one_of(form, "sex", tuple(SEXES), "Select the child's sex")
    basis = one_of(form, "legal_basis", LEGAL_BASES, "Select the legal basis of the placement")
    grounds = chosen(form, "grounds", GROUNDS, "Select grounds from the list")
    needs = chosen(form, "needs", SPECIALISMS, "Select needs from the list")
    flags = chosen(form, "flags", FLAGS, "Select flags from the list")
    approval = text(form, "under_13_approval") or None
    if approval and len(approval) > 200:
        add_error(form, "under_13_approval", "Approval reference must be 200 characters or fewer")
    home = place(form, "home", "the child's home")
    distance = number(form, "max_distance_km", "Furthest distance", 1, 2000)
    zone = exclusion_zone(form)
    kind = form.authority_kind.data or "none"
    if kind not in ORDER_KINDS:
        add_error(form, "authority_kind", "Select the legal authority from the list")
    granted = day_of(form, "authority_granted", "Date the order was granted", required=False)
    expires = day_of(form, "authority_expires", "Date the order expires", required=False)
    needed = day_of(form, "needed_by", "Date the bed is needed by", required=False)
    if form.errors or None in (age, sex, basis):
        return None
    return RequestFacts(
        case_reference=reference, age=age or 0, sex=sex or "", legal_basis=basis or "",
        grounds=grounds, needs=needs, flags=flags, under_13_approval=approval, home=home,
        max_distance_km=distance, exclusion_zones=(zone,) if zone else (),
        authority=LegalAuthority(kind, start_of(granted), start_of(expires),
                                 bool(form.authority_renewal.data)),
        needed_by=end_of(needed),
    )  # fmt: skip


def place(form: FlaskForm, prefix: str, words: str) -> tuple[float, float] | None:
    """A latitude and longitude given together, or neither."""
    lat = number(form, f"{prefix}_lat", "Latitude", -90, 90)
    lon = number(form, f"{prefix}_lon", "Longitude", -180, 180)
    given = [bool(text(form, f"{prefix}_{part}")) for part in ("lat", "lon")]
    if any(given) and not all(given):
        missing = "lon" if given[0] else "lat"
        add_error(form, f"{prefix}_{missing}",
                  f"Enter both the latitude and the longitude of {words}, or neither")  # fmt: skip
        return None
    return (lat, lon) if lat is not None and lon is not None else None


def exclusion_zone(form: RequestForm) -> Zone | None:
    """The place the child must be kept away from, with its radius, or None."""
    centre = place(form, "zone", "the place to keep away from")
    radius = number(form, "zone_radius_km", "Radius", 0.1, 1000)
    if centre is None and radius is None:
        return None
    if centre is None:
        if not text(form, "zone_lat") and not text(form, "zone_lon"):
            add_error(form, "zone_lat", "Enter the latitude and longitude of the place to keep "
                      "away from, or clear its radius")  # fmt: skip
        return None
    if radius is None:
        if not text(form, "zone_radius_km"):
            add_error(form, "zone_radius_km", "Enter how far from the place to keep the child")
        return None
    return Zone(centre[0], centre[1], radius)


# The use cases' errors at the form's fields, in words.


def authority_words(basis: str) -> str:
    """The kinds of authority a legal basis takes, in words."""
    kinds = [k for k in statutory.ORDER_KINDS_BY_BASIS.get(basis, ()) if k != "none"]
    return " or ".join(ORDER_WORDS[k].lower() for k in kinds)


def order_problem(key: str, message: str, basis: str) -> tuple[str, str]:
    """Where an error of the legal authority goes ('kind', 'granted', 'expires') and its words."""
    if key == "kind":
        if basis == "welfare":
            return "kind", "Select the order, or no order yet"
        return "kind", f"A {basis} placement needs its order: select {authority_words(basis)}"
    if key == "granted_at":
        return "granted", "The date the order was granted must be today or in the past"
    if key == "expires_at":
        found = LIMIT.search(message)
        if found:
            last = date.fromisoformat(found["day"])
            return "expires", (
                f"The order can last at most {found['limit']}: its expiry must be on or before "
                f"{last.day} {last:%B %Y}"
            )
        if "after" in message:
            return "expires", "The order must expire after the date it was granted"
    if key == "authority" and "no dates" in message:
        return "kind", "Select the kind of order the dates belong to, or clear the dates"
    if key == "authority":
        return "granted", "Enter the dates the order was granted and expires"
    return "kind", capital(message)


def place_order_errors(form: FlaskForm, found: dict[str, Any], basis: str, *,
                       prefix: str = "") -> None:  # fmt: skip
    """A use case's errors of the legal authority at the form's fields."""
    where = {"kind": f"{prefix}kind", "granted": f"{prefix}granted_day",
             "expires": f"{prefix}expires_day"}  # fmt: skip
    for key, messages in found.items():
        for message in messages if isinstance(messages, list) else [messages]:
            spot, words = order_problem(key.removeprefix("authority."), str(message), basis)
            add_error(form, where[spot], words)


def place_fact_errors(form: RequestForm, found: dict[str, Any], basis: str) -> None:
    """The rules a new request breaks, each at its field."""
    for key, messages in found.items():
        listed = messages if isinstance(messages, list) else [messages]
        if key == "grounds":
            add_error(form, "grounds", "Select at least one ground for a welfare placement"
                      if basis == "welfare" else
                      "Grounds apply to welfare placements only: clear them")  # fmt: skip
        elif key == "under_13_approval":
            add_error(form, key, f"{capital(str(listed[0]))}: enter the approval's reference")
        elif key.startswith("authority"):
            place_order_errors(form, {key: listed}, basis, prefix="authority_")
        elif key == "Idempotency-Key":
            add_error(form, "case_reference", "This form was sent already and made a request. "
                      "To request another placement, start a new request")  # fmt: skip
        else:
            for message in listed:
                add_error(form, key if key in form else "case_reference", capital(str(message)))


# Reading what the pages show.


def my_requests(statuses: tuple[str, ...]) -> list[RequestView]:
    """The authority's requests in these statuses, read a page at a time."""
    found: list[RequestView] = []
    for status in statuses:
        for page in range(1, READ_PAGES + 1):
            part = requests.list_requests(
                service().sessions,
                guard.actor(),
                requests.RequestFilter(status=status, page=page, page_size=READ_PAGE),
                now=now(),
            )
            found.extend(part.items)
            if page * READ_PAGE >= part.total:
                break
    return found


def urgency(view: RequestView) -> tuple[Any, ...]:
    """Most urgent first: past 72 hours without an order, then the most hours without one, then
    an order run out or running out, then the soonest needed, then the longest waiting."""
    order = 0 if view.order_expired else 1 if view.order_expiring else 2
    return (
        not view.without_order_breach,
        -view.hours_without_order_last_28_days,
        order,
        view.needed_by or LATEST,
        view.created_at,
        view.id,
    )


def latest_closed() -> list[RequestView]:
    """The latest few withdrawn or discharged requests, the latest changed first."""
    found: list[RequestView] = []
    for status in CLOSED:
        first = requests.list_requests(
            service().sessions, guard.actor(),
            requests.RequestFilter(status=status, page_size=CLOSED_SHOWN), now=now(),
        )  # fmt: skip
        found.extend(first.items)
        last = (first.total - 1) // CLOSED_SHOWN + 1
        for page in sorted({p for p in (last - 1, last) if p > 1}):
            found.extend(requests.list_requests(
                service().sessions, guard.actor(),
                requests.RequestFilter(status=status, page=page, page_size=CLOSED_SHOWN),
                now=now(),
            ).items)  # fmt: skip
    unique = {r.id: r for r in found}
    return sorted(unique.values(), key=lambda r: (r.updated_at, r.id), reverse=True)[:CLOSED_SHOWN]


def requests_region() -> dict[str, Any]:
    """The values of the requests table (a page region refreshed on its own)."""
    return {"current": sorted(my_requests(UNFINISHED), key=urgency), **page_helpers()}


def page_helpers() -> dict[str, Any]:
    """What every template of these pages uses besides its own values."""
    return {
        "now": now(),
        "sexes": SEXES,
        "basis_words": LEGAL_BASIS_WORDS,
        "basis_hints": LEGAL_BASIS_HINTS,
        "ground_words": GROUND_WORDS,
        "need_labels": NEED_LABELS,
        "flag_words": FLAG_WORDS,
        "order_words": ORDER_WORDS,
        "status_tags": STATUS_TAGS,
        "offer_tags": OFFER_TAGS,
        "meeting_tags": MEETING_TAGS,
        "recommendation_words": RECOMMENDATION_WORDS,
        "limit_hours": statutory.WITHOUT_ORDER_LIMIT_HOURS,
    }


def all_units() -> dict[str, UnitView]:
    """Every unit, by id (for names and the details of why a unit cannot take the child)."""
    found = units.list_units(service().sessions, guard.actor(), units.UnitFilter(),
                             settings=service().settings, now=now())  # fmt: skip
    return {u.id: u for u in found}


def why_not(code: str, shown: RequestView, unit: UnitView | None, home: str) -> str:
    """One reason a unit cannot take the child, as a sentence."""
    values = {
        "child": CHILD.get(shown.sex, shown.sex),
        "children": CHILDREN.get(shown.sex, shown.sex),
        "age": shown.age,
        "basis": BASIS_PLACEMENT.get(shown.legal_basis, shown.legal_basis),
        "basis_lower": shown.legal_basis,
        "home": home,
        "max_distance": f"{shown.max_distance_km:g}" if shown.max_distance_km else "",
        "needs": " and ".join(NEED_WORDS.get(n, n) for n in shown.needs),
    }
    if unit is None:
        return EXCLUSIONS_IN_GENERAL.get(code, EXCLUSIONS.get(code, code)).format(**values)
    missing = [n for n in shown.needs if n not in unit.specialisms] or shown.needs
    values |= {
        "takes": " and ".join(CHILDREN.get(s, s) for s in unit.sexes) or "no children",
        "min_age": unit.min_age,
        "max_age": unit.max_age,
        "designation": DESIGNATION_WORDS.get(unit.designation, unit.designation),
        "needs": " and ".join(NEED_WORDS.get(n, n) for n in missing),
    }
    return EXCLUSIONS.get(code, capital(code.replace("_", " "))).format(**values)


@dataclass(frozen=True)
class Option:
    """An eligible unit as the options table shows it."""

    unit_id: str
    unit_name: str
    home: str
    score: int
    distance_km: float
    parts: list[tuple[str, int]]
    offered: bool


@dataclass(frozen=True)
class Excluded:
    """A unit that cannot take the child, and every reason why, in words."""

    unit_id: str
    unit_name: str
    home: str
    reasons: list[str]


def ranked(shown: RequestView, sent: list[OfferView],
           known: dict[str, UnitView]) -> tuple[list[Option], list[Excluded]]:  # fmt: skip
    """The request's options, best first, and every unit that cannot take the child."""
    ranking = matching.options(service().sessions, guard.actor(), shown.id,
                               settings=service().settings, now=now())  # fmt: skip
    pending = {o.unit_id for o in sent if o.status == "pending"}
    options = [
        Option(
            o["unit_id"], o.get("unit_name", o["unit_id"]), o.get("provider_name", ""),
            o["score"], o["distance_km"],
            [(SCORE_PARTS.get(k, k), v) for k, v in o["breakdown"].items()],
            o["unit_id"] in pending,
        )
        for o in ranking.options
    ]  # fmt: skip
    excluded = [
        Excluded(
            e["unit_id"], e.get("unit_name", e["unit_id"]), e.get("provider_name", ""),
            [why_not(code, shown, known.get(e["unit_id"]), e.get("provider_name", "The home"))
             for code in e["reasons"]],
        )
        for e in ranking.excluded
    ]  # fmt: skip
    return options, excluded


def offer_note(offer: OfferView) -> str:
    """What became of an offer, in words."""
    if offer.status == "pending":
        return f"Answer due by {uk_time(offer.expires_at)}"
    if offer.status == "declined":
        why = DECLINE_WORDS.get(offer.decline_reason or "other", offer.decline_reason)
        note = f" ({offer.decline_note})" if offer.decline_note else ""
        return f"Declined {uk_time(offer.answered_at)}. Reason: {why}{note}"
    if offer.status == "cancelled":
        why = CANCEL_WORDS.get(offer.cancel_reason or "", offer.cancel_reason or "")
        return f"Cancelled {uk_time(offer.answered_at)}: {why}"
    if offer.status == "released":
        why = DECLINE_WORDS.get(offer.release_reason or "other", offer.release_reason)
        note = f" ({offer.release_note})" if offer.release_note else ""
        return f"Given back {uk_time(offer.released_at)}. Reason: {why}{note}"
    if offer.status == "expired":
        return f"No answer by {uk_time(offer.expires_at)}"
    return f"Accepted {uk_time(offer.answered_at)}"


def show_request(request_id: str, *, problems: Problems | None = None, status: int = 200,
                 ticked: tuple[str, ...] = ()) -> Any:  # fmt: skip
    """A request's page: facts, clocks, orders, offers and, while it can be offered, options."""
    me = guard.actor()
    shown = requests.get(service().sessions, me, request_id, now=now())
    sent = casefile.request_offers(service().sessions, me, request_id, now=now())
    known = all_units()
    options, excluded = ranked(shown, sent, known) if shown.status in OFFERABLE else ([], [])
    placement = (
        admissions.get(service().sessions, me, shown.placement_id) if shown.placement_id else None
    )
    reserved_unit = known.get(shown.reservation["unit_id"]) if shown.reservation else None
    placed_unit = known.get(placement.unit_id) if placement else None
    return render_template(
        "pages/director/request.html",
        request_view=shown,
        sent=sent,
        options=options,
        excluded=excluded,
        units=known,
        placement=placement,
        reserved_unit=reserved_unit,
        placed_unit=placed_unit,
        form=problems,
        ticked=set(ticked),
        offer_note=offer_note,
        offer_hours=service().settings.offer_hours,
        top=TOP,
        **page_helpers(),
    ), status


def cannot(shown: RequestView, what: str) -> Any:
    """A step the request's status does not allow (409), saying why."""
    state = STATUS_TAGS.get(shown.status, (shown.status,))[0].lower()
    return errors.page(409, f"Request {shown.case_reference} is {state}, so you cannot {what} now.")


def the_request(request_id: str) -> RequestView:
    """A request of the authority (NotFound for any other, as for an unknown id)."""
    return requests.get(service().sessions, guard.actor(), request_id, now=now())


# The authority's requests.


@blp.get("")
@for_roles("director")
def dashboard() -> Any:
    """The authority's requests with their clocks, most urgent first, and the latest closed."""
    me = guard.actor()
    authority = authorities.get_authority(service().sessions, me, me.authority_id or "")
    return render_template("pages/director/dashboard.html", authority=authority,
                           closed=latest_closed(), **requests_region())  # fmt: skip


@blp.get("/requests-fragment")
@for_roles("director")
def requests_fragment() -> Any:
    """The requests table alone, for the page to refresh its clocks."""
    return render_template("pages/director/_requests.html", **requests_region())


# Starting a request.


@blp.route("/requests/new", methods=["GET", "POST"])
@for_roles("director")
def new_request() -> Any:
    """Request a placement: every fact the matcher and the statutory rules need."""
    if request.method == "GET":
        form = RequestForm(data={"idempotency_key": secrets.token_urlsafe(16),
                                 "authority_kind": "none"})  # fmt: skip
        return show_new_request(form)
    form = RequestForm()
    facts = facts_of(form)
    if facts is None:
        return show_new_request(form, status=422)
    try:
        made = requests.create(service().sessions, guard.actor(), facts, now=now(),
                               idempotency_key=form.idempotency_key.data or None)  # fmt: skip
    except InvalidInput as error:
        place_fact_errors(form, error.errors or {"case_reference": [error.message]},
                          facts.legal_basis)  # fmt: skip
        return show_new_request(form, status=422)
    except InvalidTransition:
        add_error(form, "case_reference", "This form is being sent already: wait a moment, then "
                  "look for the request on your requests page")  # fmt: skip
        return show_new_request(form, status=409)
    except Conflict as error:
        open_ids = (error.errors or {}).get("case_reference", [""])[0].removeprefix("open request ")
        add_error(form, "case_reference", f"{facts.case_reference} already has an open request "
                  f"({open_ids}): update or withdraw that one first")  # fmt: skip
        return show_new_request(form, status=409)
    flash(f"Request sent for {made.case_reference}. Choose homes to offer the placement to.",
          "success")  # fmt: skip
    return redirect(url_for(".request_page", request_id=made.id))


def show_new_request(form: RequestForm, *, status: int = 200) -> Any:
    """The new request's form."""
    me = guard.actor()
    authority = authorities.get_authority(service().sessions, me, me.authority_id or "")
    return render_template(
        "pages/director/new_request.html",
        form=form,
        authority=authority,
        approval_age=statutory.APPROVAL_AGE,
        **page_helpers(),
    ), status


# A request.


@blp.get("/requests/<request_id>")
@for_roles("director")
def request_page(request_id: str) -> Any:
    """A request's facts and clocks, its options ranked, the units excluded, its offers."""
    return show_request(request_id)


@blp.post("/requests/<request_id>/offers")
@for_roles("director")
def send_offers(request_id: str) -> Any:
    """Offer the placement to the units ticked, or to the top 3 options."""
    shown = the_request(request_id)
    picked = tuple(dict.fromkeys(request.form.getlist("unit_ids")))
    top = request.form.get("top") == str(TOP)
    if not picked and not top:
        problems = Problems()
        problems.add("unit_ids", "Select the units to offer the placement to, or offer to the "
                     f"top {TOP}")  # fmt: skip
        return show_request(request_id, problems=problems, status=422)
    choice = offers.OfferChoice(top=TOP) if top else offers.OfferChoice(unit_ids=picked)
    try:
        made = offers.create_offers(service().sessions, guard.actor(), request_id, choice,
                                    settings=service().settings, now=now())  # fmt: skip
    except InvalidInput as error:
        problems = offer_problems(shown, error)
        return show_request(request_id, problems=problems, status=422, ticked=picked)
    except InvalidTransition:
        latest = the_request(request_id)
        problems = Problems()
        state = STATUS_TAGS.get(latest.status, (latest.status,))[0].lower()
        problems.add("unit_ids", f"This request is {state} now, so it cannot be offered")
        return show_request(request_id, problems=problems, status=409)
    homes = len({o.provider_id for o in made})
    extra = f" ({len(made)} units)" if len(made) > homes else ""
    flash(f"Offers sent to {homes} home{'' if homes == 1 else 's'}{extra}", "success")
    return redirect(url_for(".request_page", request_id=request_id))


def offer_problems(shown: RequestView, error: InvalidInput) -> Problems:
    """Why the units chosen cannot be offered to, in words, at the units' boxes."""
    known = all_units()
    problems = Problems()
    for unit_id, codes in (error.errors or {}).items():
        if unit_id == "top":
            problems.add("unit_ids", "Every unit that can take the child has an offer already")
            continue
        unit = known.get(unit_id)
        name = unit.name if unit else unit_id
        for code in codes if isinstance(codes, list) else [codes]:
            if code == "already_offered":
                words = "an offer is already waiting for its answer"
            elif code == "unknown_unit":
                words = "there is no such unit"
            else:
                words = why_not(code, shown, unit, unit.provider_name if unit else "The home")
                words = words[:1].lower() + words[1:]
            problems.add("unit_ids", f"{name}: {words}")
    return problems


@blp.route("/requests/<request_id>/withdraw", methods=["GET", "POST"])
@for_roles("director")
def withdraw(request_id: str) -> Any:
    """Withdraw a request, once confirmed: offers are cancelled and a reserved bed freed."""
    shown = the_request(request_id)
    if shown.status not in requests.UNFINISHED_STATUSES:
        return cannot(shown, "withdraw it")
    form = ButtonForm()
    if request.method == "POST" and form.validate():
        try:
            requests.withdraw(service().sessions, guard.actor(), request_id, now=now())
        except InvalidTransition:
            return cannot(the_request(request_id), "withdraw it")
        flash(f"Request withdrawn for {shown.case_reference}", "success")
        return redirect(url_for(".request_page", request_id=request_id))
    return render_template("pages/director/withdraw.html", request_view=shown, form=form,
                           **page_helpers())  # fmt: skip


@blp.route("/requests/<request_id>/orders", methods=["GET", "POST"])
@for_roles("director")
def record_order(request_id: str) -> Any:
    """Record a new or renewed court order; the clocks and the next review move with it."""
    shown = the_request(request_id)
    kinds = [k for k in statutory.ORDER_KINDS_BY_BASIS[shown.legal_basis] if k != "none"]
    starting = {"kind": kinds[0]} if len(kinds) == 1 else None
    form = OrderForm(data=starting) if request.method == "GET" else OrderForm()
    form.kind.choices = choices({k: ORDER_WORDS[k] for k in kinds})
    if request.method == "GET":
        return show_order_form(form, shown)
    kind = one_of(form, "kind", tuple(kinds), "Select the kind of order")
    granted = day_of(form, "granted", "Date the order was granted", required=True)
    expires = day_of(form, "expires", "Date the order expires", required=True)
    if kind is None or granted is None or expires is None:
        return show_order_form(form, shown, status=422)
    order = LegalAuthority(kind, start_of(granted), start_of(expires), bool(form.renewal.data))
    try:
        requests.record_order(service().sessions, guard.actor(), request_id, order,
                              settings=service().settings, now=now())  # fmt: skip
    except InvalidInput as error:
        place_order_errors(form, error.errors or {"kind": [error.message]}, shown.legal_basis)
        return show_order_form(form, shown, status=422)
    flash(f"Order recorded for {shown.case_reference}: {ORDER_WORDS[kind].lower()} until "
          f"{uk_time(start_of(expires), 'date')}", "success")  # fmt: skip
    return redirect(url_for(".request_page", request_id=request_id))


def show_order_form(form: OrderForm, shown: RequestView, *, status: int = 200) -> Any:
    """The form of a court order."""
    return render_template("pages/director/order.html", form=form, request_view=shown,
                           renewable=shown.legal_basis == "welfare",
                           **page_helpers()), status  # fmt: skip


def moment_of(form: MomentForm, what: str) -> datetime | None:
    """Now, or the day and time given (UK time), or None with an error at the field."""
    when = one_of(form, "when", ("now", "earlier"), f"Select when the child {what}")
    if when == "now":
        return now()
    if when is None:
        return None
    day = day_of(form, "at", "Date", required=True)
    answer = text(form, "at_time")
    clock = clock_time(answer)
    if clock is None:
        add_error(form, "at_time", "Enter the time in the 24-hour clock or with am or pm, like "
                  "10:00 or 2:30pm" if answer else "Enter the time")  # fmt: skip
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock, tzinfo=UK)


def moment_errors(form: MomentForm, error: InvalidInput, key: str) -> None:
    """A use case's errors of a time at the date's field."""
    for name, messages in (error.errors or {key: [error.message]}).items():
        spot = "at_day" if name == key else (name if name in form else "at_day")
        for message in messages if isinstance(messages, list) else [messages]:
            add_error(form, spot, capital(readable(str(message))))


def readable(message: str) -> str:
    """A service's message with its ISO times in UK words."""

    def words(found: re.Match[str]) -> str:
        return uk_time(datetime.fromisoformat(found[0]))

    return re.sub(r"\d{4}-\d{2}-\d{2}T[\d:.]+(?:[+-]\d{2}:\d{2}|Z)?", words, message)


@blp.route("/requests/<request_id>/admission", methods=["GET", "POST"])
@for_roles("director")
def admission(request_id: str) -> Any:
    """Record the child's arrival at the unit that accepted: the reserved bed becomes theirs."""
    shown = the_request(request_id)
    if shown.status != "reserved" or shown.reservation is None:
        return cannot(shown, "record an admission: a home must accept an offer first")
    unit = all_units().get(shown.reservation["unit_id"])
    form = MomentForm(data={"when": "now"}) if request.method == "GET" else MomentForm()
    if request.method == "GET":
        return show_moment_form("pages/director/admission.html", form, shown, unit)
    moment = moment_of(form, "arrived")
    if moment is None:
        return show_moment_form("pages/director/admission.html", form, shown, unit, status=422)
    try:
        placed = admissions.admit(service().sessions, guard.actor(), request_id, moment, now=now())
    except InvalidInput as error:
        moment_errors(form, error, "admitted_at")
        return show_moment_form("pages/director/admission.html", form, shown, unit, status=422)
    except (InvalidTransition, Conflict):
        return cannot(the_request(request_id), "record an admission")
    where = f" at {unit.name}, {unit.provider_name}" if unit else ""
    review = (f". The first review is due by {uk_time(placed.next_review_due, 'date')}"
              if placed.next_review_due else "")  # fmt: skip
    flash(f"Admission recorded: {shown.case_reference} arrived {uk_time(placed.admitted_at)}"
          f"{where}{review}", "success")  # fmt: skip
    return redirect(url_for(".request_page", request_id=request_id))


@blp.route("/requests/<request_id>/discharge", methods=["GET", "POST"])
@for_roles("director")
def discharge(request_id: str) -> Any:
    """Record that a placed child has left, and where to: the bed is freed."""
    shown = the_request(request_id)
    if shown.status != "placed" or shown.placement_id is None:
        return cannot(shown, "record a discharge: the child is not placed")
    placement = admissions.get(service().sessions, guard.actor(), shown.placement_id)
    unit = all_units().get(placement.unit_id)
    form = DischargeForm(data={"when": "now"}) if request.method == "GET" else DischargeForm()
    page = "pages/director/discharge.html"
    if request.method == "GET":
        return show_moment_form(page, form, shown, unit)
    moment = moment_of(form, "left")
    destination = text(form, "destination")
    if not destination:
        add_error(form, "destination", "Enter where the child went")
    elif len(destination) > 200:
        add_error(form, "destination", "Where the child went must be 200 characters or fewer")
    if moment is None or form.errors:
        return show_moment_form(page, form, shown, unit, status=422)
    try:
        admissions.discharge(service().sessions, guard.actor(), placement.id, moment,
                             destination, settings=service().settings, now=now())  # fmt: skip
    except InvalidInput as error:
        moment_errors(form, error, "discharged_at")
        return show_moment_form(page, form, shown, unit, status=422)
    except InvalidTransition:
        return cannot(the_request(request_id), "record a discharge")
    flash(f"Discharge recorded: {shown.case_reference} left {uk_time(moment)}", "success")
    return redirect(url_for(".request_page", request_id=request_id))


def show_moment_form(template: str, form: MomentForm, shown: RequestView, unit: UnitView | None,
                     *, status: int = 200) -> Any:  # fmt: skip
    """The admission or discharge form."""
    if not any(text(form, f"at_{part}") for part in ("day", "month", "year", "time")):
        local = now().astimezone(UK)
        form.at_day.data, form.at_month.data = str(local.day), str(local.month)
        form.at_year.data, form.at_time.data = str(local.year), f"{local:%H:%M}"
    return render_template(template, form=form, request_view=shown, unit=unit,
                           **page_helpers()), status  # fmt: skip


# The children's review meetings.


@blp.get("/reviews")
@for_roles("director")
def reviews() -> Any:
    """The review meetings of the authority's placements: to hold, then held or cancelled."""
    me = guard.actor()
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    to_hold = casefile.review_meetings(service().sessions, me, still_open=True, now=now(),
                                       page_size=200)  # fmt: skip
    past = casefile.review_meetings(service().sessions, me, still_open=False, now=now(),
                                    page=page, page_size=REVIEWS_PAGE)  # fmt: skip
    last = max((past.total - 1) // REVIEWS_PAGE + 1, 1)
    return render_template(
        "pages/director/reviews.html",
        to_hold=to_hold.items,
        past=past,
        pagination=paging(page, last),
        **page_helpers(),
    )


def paging(page: int, last: int) -> dict[str, Any] | None:
    """GOV.UK pagination of the past reviews (None for one page)."""
    if last <= 1:
        return None
    found: dict[str, Any] = {"items": [
        {"number": n, "href": url_for(".reviews", page=n), "current": n == page}
        for n in range(1, last + 1)
    ]}  # fmt: skip
    if page > 1:
        found["previous"] = {"href": url_for(".reviews", page=page - 1)}
    if page < last:
        found["next"] = {"href": url_for(".reviews", page=page + 1)}
    return found
