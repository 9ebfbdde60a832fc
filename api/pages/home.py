"""Pages of a home's staff (role 'provider'): its units' beds, offers to it, each unit's history.

Every page asks the same use cases as the API (api/units.py, api/offers.py): the bed counts are
saved only over the version the form was loaded with, so another person's change in between is
shown, never overwritten; another home's unit or offer is refused (403) or not found (404).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from api.context import now, service
from api.pages import guard
from api.pages.fields import CountField
from api.pages.filters import plain
from api.pages.guard import for_roles
from placements import availability, offers, providers, units
from placements.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NoBedLeft,
    PreconditionFailed,
)
from placements.paging import Page
from placements.units import UnitView
from placements.vocabulary import DECLINE_REASONS, FLAGS, OUT_OF_USE_REASONS

blp = Blueprint("home", __name__, url_prefix="/home")
# The role's service navigation: (text, endpoint).
NAVIGATION = [("Beds", "pages.home.dashboard"), ("Offers", "pages.home.offers")]

IN_USE = "in_use"  # the radio for "no bed out of use" (the unit keeps no reason)
HISTORY_PAGE = 25
INBOX_SIZE = 100  # pending offers expire within hours: a home never has this many at once
RECENT_ANSWERS = 10
CAUSES = {
    "provider_update": "Bed counts updated",
    "offer_accepted": "Offer accepted: a bed reserved",
    "offer_released": "Accepted offer given back: bed freed",
    "request_withdrawn": "Request withdrawn: reserved bed freed",
    "admission": "Child admitted",
    "discharge": "Child left",
    "registered": "Unit registered",
}
SEXES = {"F": "Female", "M": "Male"}


def sentence(code: str) -> str:
    """A code in plain English with a capital letter: 'no_staffed_bed' -> 'No staffed bed'."""
    words = plain(code)
    return words[:1].upper() + words[1:]


class UnitForm(FlaskForm):  # type: ignore[misc]
    """A unit's bed counts as its home reports them (reserved beds are the service's own)."""

    staffed_beds = CountField(
        "Staffed beds",
        validators=[
            InputRequired("Enter the number of staffed beds"),
            NumberRange(0, 1000, "Staffed beds must be between 0 and 1000"),
        ],
    )
    occupied_beds = CountField(
        "Occupied beds",
        validators=[
            InputRequired("Enter the number of occupied beds"),
            NumberRange(0, 1000, "Occupied beds must be between 0 and 1000"),
        ],
    )
    out_of_use_reason = RadioField(
        "Are any approved beds out of use?",
        choices=[
            SelectChoice(IN_USE, "In use"),
            *(SelectChoice(r, sentence(r)) for r in OUT_OF_USE_REASONS),
        ],
        validate_choice=False,
        validators=[
            InputRequired("Select whether any beds are out of use"),
            AnyOf([IN_USE, *OUT_OF_USE_REASONS], "Select whether any beds are out of use"),
        ],
    )
    version = CountField(
        "Version",
        widget=HiddenInput(),
        validators=[InputRequired("The form was incomplete: reload the page and try again")],
    )


for _flag in FLAGS:
    setattr(
        UnitForm,
        f"flag_{_flag}",
        CountField(
            sentence(_flag),
            validators=[
                Optional(),
                NumberRange(0, 1000, f"{sentence(_flag)} must be between 0 and 1000"),
            ],
        ),
    )


class DeclineForm(FlaskForm):  # type: ignore[misc]
    """Why the home declines an offer."""

    reason = RadioField(
        "Why are you declining the offer?",
        choices=[SelectChoice(r, sentence(r)) for r in DECLINE_REASONS],
        validate_choice=False,
        validators=[
            InputRequired("Select why you are declining the offer"),
            AnyOf(DECLINE_REASONS, "Select why you are declining the offer"),
        ],
    )
    note = TextAreaField(
        "Anything the placing authority should know (optional)",
        validators=[Optional(), Length(max=2000, message="Note must be 2000 characters or fewer")],
    )


class AnswerForm(FlaskForm):  # type: ignore[misc]
    """Accept an offer: a button, and the CSRF token."""


# Reading what the pages show.


def home_units() -> list[UnitView]:
    """The signed-in person's home's units with their live counts."""
    me = guard.actor()
    return units.list_units(
        service().sessions,
        me,
        units.UnitFilter(provider_id=me.provider_id),
        settings=service().settings,
        now=now(),
    )


def own_unit(provider_id: str, unit_slug: str) -> UnitView:
    """One of the home's units (404 for none, 403 for another home's: only its staff update it)."""
    me = guard.actor()
    unit = units.get_unit(
        service().sessions,
        me,
        f"{provider_id}/{unit_slug}",
        settings=service().settings,
        now=now(),
    )
    if unit.provider_id != me.provider_id:
        raise Forbidden(f"{unit.name} is a unit of {unit.provider_name}: only its staff see this.")
    return unit


def pending_offers() -> Page[offers.OfferView]:
    """The offers to the home waiting for its answer, newest first."""
    return offers.list_offers(
        service().sessions, guard.actor(), status="pending", page_size=INBOX_SIZE, now=now()
    )


def time_left(expires_at: datetime) -> str:
    """How long an offer has left: '3 hours 5 minutes left', or 'Expired'."""
    left = expires_at - now()
    if left <= timedelta(0):
        return "Expired"
    whole_hours, minutes = divmod(int(left.total_seconds() // 60), 60)
    parts = [f"{whole_hours} hour{'' if whole_hours == 1 else 's'}"] if whole_hours else []
    if minutes or not whole_hours:
        parts.append(f"{minutes} minute{'' if minutes == 1 else 's'}")
    return " ".join(parts) + " left"


def hours_since(moment: datetime) -> float:
    """Hours from a moment until now."""
    return (now() - moment).total_seconds() / 3600


def page_helpers() -> dict[str, Any]:
    """What every template of these pages uses besides its own values."""
    return {
        "now": now(),
        "time_left": time_left,
        "hours_since": hours_since,
        "sentence": sentence,
        "sexes": SEXES,
        "causes": CAUSES,
        "stale_hours": service().settings.stale_hours,
    }


def units_region() -> dict[str, Any]:
    """The values of the units table (a page region refreshed on its own)."""
    found = home_units()
    me = guard.actor()
    home = providers.get_provider(service().sessions, me, me.provider_id or "")
    return {"home": home, "units": found, **page_helpers()}


def offers_region() -> dict[str, Any]:
    """The values of the offers inbox (a page region refreshed on its own)."""
    pending = pending_offers()
    names = {u.id: u.name for u in home_units()}
    return {"pending": pending.items, "unit_names": names, **page_helpers()}


# The home's beds.


@blp.get("")
@for_roles("provider")
def dashboard() -> Any:
    """The home's units and their beds, and how many offers wait for an answer."""
    waiting = offers.list_offers(
        service().sessions, guard.actor(), status="pending", page_size=1, now=now()
    ).total
    return render_template("pages/home/dashboard.html", waiting=waiting, **units_region())


@blp.get("/units-fragment")
@for_roles("provider")
def units_fragment() -> Any:
    """The units table alone, for the page to refresh it."""
    return render_template("pages/home/_units.html", **units_region())


@blp.route("/units/<provider_id>/<unit_slug>", methods=["GET", "POST"])
@for_roles("provider")
def unit(provider_id: str, unit_slug: str) -> Any:
    """Update a unit's bed counts, over the version the form was loaded with."""
    current = own_unit(provider_id, unit_slug)
    if request.method == "GET":
        return show_unit_form(UnitForm(data=form_values(current)), current, current.version)
    form = UnitForm()
    if not form.validate():
        return show_unit_form(form, current, form.version.data, status=422)
    try:
        saved = availability.update_availability(
            service().sessions,
            guard.actor(),
            current.id,
            change_of(form),
            expected_version=count(form.version),
            settings=service().settings,
            now=now(),
        )
    except InvalidInput as error:
        place_errors(form, error.errors or {}, current)
        return show_unit_form(form, current, form.version.data, status=422)
    except (PreconditionFailed, Conflict):
        latest = own_unit(provider_id, unit_slug)
        return show_unit_form(form, latest, latest.version, status=409, changed=True)
    flash(f"Bed counts saved for {saved.name}", "success")
    return redirect(url_for(".dashboard"))


def show_unit_form(
    form: UnitForm, unit: UnitView, version: int | None, *, status: int = 200, changed: bool = False
) -> Any:
    """The unit's form; `version` is what a save must find current (the other change, if any)."""
    return render_template(
        "pages/home/unit.html",
        form=form,
        unit=unit,
        version=version,
        changed=changed,
        flags=FLAGS,
        **page_helpers(),
    ), status


def count(field: CountField) -> int:
    """A validated count (the form's validators made sure there is one)."""
    return int(field.data or 0)


def form_values(unit: UnitView) -> dict[str, Any]:
    """A unit's counts as the form's starting answers."""
    return {
        "staffed_beds": unit.staffed_beds,
        "occupied_beds": unit.occupied_beds,
        "out_of_use_reason": unit.out_of_use_reason or IN_USE,
        "version": unit.version,
        **{f"flag_{flag}": unit.resident_flags.get(flag, 0) for flag in FLAGS},
    }


def change_of(form: UnitForm) -> availability.AvailabilityUpdate:
    """The form's answers as the use case's update (every field given: none kept from before)."""
    reason = form.out_of_use_reason.data
    counts = {flag: count(form[f"flag_{flag}"]) for flag in FLAGS}
    return availability.AvailabilityUpdate(
        staffed_beds=count(form.staffed_beds),
        occupied_beds=count(form.occupied_beds),
        out_of_use_reason=None if reason == IN_USE else reason,
        resident_flags={flag: n for flag, n in counts.items() if n},
    )


def place_errors(form: UnitForm, errors: dict[str, Any], unit: UnitView) -> None:
    """Put the use case's errors at the form's fields, in words a person reads."""
    for name, messages in errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            add_error(form, *worded(form, unit, name, str(message)))


def worded(form: UnitForm, unit: UnitView, name: str, message: str) -> tuple[str, str]:
    """The field of one of the use case's errors and what to say there."""
    staffed, occupied = count(form.staffed_beds), count(form.occupied_beds)
    approved, reserved = unit.approved_beds, unit.reserved_beds
    if name == "staffed_beds" and staffed > approved:
        return name, f"Staffed beds must be {approved} or fewer, the unit's approved beds"
    if name == "occupied_beds":
        held = f" and the {reserved} beds reserved for accepted offers" if reserved else ""
        return name, f"Occupied beds{held} must be no more than the {staffed} staffed beds"
    if name == "out_of_use_reason":
        return name, f"Select why beds are out of use: you staff {staffed} of {approved} beds"
    flag = message.split(":", 1)[0]
    if name == "resident_flags" and flag in FLAGS:
        return f"flag_{flag}", f"{sentence(flag)} must be no more than the {occupied} occupied beds"
    return (name if name in form else "staffed_beds"), sentence(message)


def add_error(form: FlaskForm, name: str, message: str) -> None:
    """One more error at a field (the error summary links to it)."""
    field = form[name]
    field.errors = [*field.errors, message]


@blp.get("/units/<provider_id>/<unit_slug>/history")
@for_roles("provider")
def history(provider_id: str, unit_slug: str) -> Any:
    """A unit's changes of counts, newest first, a page at a time."""
    shown = own_unit(provider_id, unit_slug)
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    changes = availability.history(
        service().sessions, guard.actor(), shown.id, page=page, page_size=HISTORY_PAGE
    )
    return render_template(
        "pages/home/history.html",
        unit=shown,
        changes=changes,
        page=page,
        more=len(changes) == HISTORY_PAGE,  # a full page: there may be older ones
        **page_helpers(),
    )


# Offers to the home.


@blp.get("/offers", endpoint="offers")
@for_roles("provider")
def offers_inbox() -> Any:
    """The offers waiting for an answer, and the latest answered."""
    region = offers_region()
    latest = offers.list_offers(
        service().sessions, guard.actor(), page_size=RECENT_ANSWERS * 2, now=now()
    ).items
    answered = [o for o in latest if o.status != "pending"][:RECENT_ANSWERS]
    return render_template("pages/home/offers.html", answered=answered, **region)


@blp.get("/offers-fragment")
@for_roles("provider")
def offers_fragment() -> Any:
    """The inbox alone, for the page to refresh it."""
    return render_template("pages/home/_offers.html", **offers_region())


@blp.post("/offers/<offer_id>/accept")
@for_roles("provider")
def accept(offer_id: str) -> Any:
    """Accept an offer: a bed of the unit is reserved for the child."""
    try:
        done = offers.accept(
            service().sessions, guard.actor(), offer_id, settings=service().settings, now=now()
        )
    except NoBedLeft:
        return offer_refused(
            "There is no free bed left in the unit for this child. Update the unit's bed counts "
            "if a bed is free, or decline the offer."
        )
    except InvalidTransition as error:
        return offer_refused(
            "This offer is no longer waiting for an answer: it may have "
            "expired, been withdrawn, or been answered already.",
            detail=error.message,
        )
    except Conflict as error:
        return offer_refused(
            "The unit's residents have changed: the child can no longer be placed there safely.",
            detail=error.message,
        )
    flash(f"You accepted the offer for request {done.request_id}. A bed is reserved.", "success")
    return redirect(url_for(".offers"))


@blp.route("/offers/<offer_id>/decline", methods=["GET", "POST"])
@for_roles("provider")
def decline(offer_id: str) -> Any:
    """Decline an offer, saying why."""
    form = DeclineForm()
    if form.validate_on_submit():
        try:
            done = offers.decline(
                service().sessions,
                guard.actor(),
                offer_id,
                form.reason.data,
                form.note.data or None,
                now=now(),
            )
        except InvalidTransition as error:
            return offer_refused(
                "This offer is no longer waiting for an answer: it may have "
                "expired, been withdrawn, or been answered already.",
                detail=error.message,
            )
        flash(f"You declined the offer for request {done.request_id}", "success")
        return redirect(url_for(".offers"))
    shown = offers.get_offer(service().sessions, guard.actor(), offer_id, now=now())
    names = {u.id: u.name for u in home_units()}
    return render_template(
        "pages/home/decline.html", form=form, offer=shown, unit_names=names, **page_helpers()
    ), (422 if form.errors else 200)


def offer_refused(message: str, *, detail: str | None = None) -> Any:
    """An answer the service could not record (409), with the way back to the inbox."""
    return render_template("pages/home/offer_refused.html", message=message, detail=detail), 409
