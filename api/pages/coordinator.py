"""Pages of the national coordinator (role 'admin'): the bed board and its map, the waiting list
across authorities, escalation (episodes, meetings, thresholds) and the declines report.

Every page asks the same use cases as the API (api/units.py, api/requests.py, api/meetings.py,
api/thresholds.py, api/reports.py); the map and the charts are drawn on the server
(api/pages/drawing.py), so nothing leaves the page for a tile server or a script.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, NumberRange, Optional

from api.context import now, service
from api.pages import drawing, guard
from api.pages.fields import LevelField
from api.pages.filters import plain
from api.pages.guard import for_roles
from placements import (
    authorities,
    availability,
    escalations,
    meetings,
    providers,
    reports,
    requests,
    thresholds,
    units,
)
from placements.errors import InvalidInput, NotFound
from placements.paging import Page
from placements.providers import ProviderView
from placements.requests import RequestView
from placements.units import UnitView
from placements.vocabulary import DESIGNATIONS, NATIONS

blp = Blueprint("coordinator", __name__, url_prefix="/coordinator")
# The role's service navigation: (text, endpoint).
NAVIGATION = [
    ("Bed board", "pages.coordinator.dashboard"),
    ("Waiting list", "pages.coordinator.waiting"),
    ("Escalations", "pages.coordinator.escalations"),
    ("Declines", "pages.coordinator.declines"),
]

# Children still without a bed: no offer out yet, or offers waiting for homes' answers.
WAITING_STATUSES = ("waiting", "offered")
WAITING_PAGE = 50  # rows of the waiting list shown at once
READ_PAGE = 100  # the use case's page size when the whole waiting list is read
READ_PAGES = 20  # at most this many pages of each status (2,000 children: far beyond the estate)
MEETINGS_PAGE = 20
EPISODES_SHOWN = 20
LATEST = datetime.max.replace(tzinfo=UTC)
NATION_NAMES = {"england": "England", "wales": "Wales"}
PERIODS = {"all": None, "7": 7, "30": 30, "90": 90, "365": 365}
PERIOD_WORDS = {
    "all": "All answers so far",
    "7": "The last 7 days",
    "30": "The last 30 days",
    "90": "The last 90 days",
    "365": "The last year",
}
COMPARISONS = {"above": "above", "at_or_above": "at or above", "at_or_below": "at or below"}
SEXES = {"F": "female", "M": "male"}


def sentence(code: str) -> str:
    """A code in plain English with a capital letter: 'no_staffed_bed' -> 'No staffed bed'."""
    words = plain(code)
    return words[:1].upper() + words[1:]


def page_number() -> int:
    """The page asked for in the query (from 1)."""
    return min(max(request.args.get("page", 1, type=int) or 1, 1), 100_000)


def paging(page: int, total: int, size: int, endpoint: str, **args: Any) -> dict[str, Any] | None:
    """The GOV.UK pagination of a list, or None when it fits on one page."""
    last = (total - 1) // size + 1 if total else 1
    if last <= 1:
        return None

    def link(number: int) -> str:
        return url_for(endpoint, page=number, **args)

    return {
        "previous": {"href": link(page - 1)} if page > 1 else None,
        "next": {"href": link(page + 1)} if page < last else None,
        "items": [{"number": n, "href": link(n), "current": n == page} for n in range(1, last + 1)],
    }


# The bed board.


@dataclass(frozen=True)
class HomeRow:
    """A home on the bed board: its units and its free beds."""

    home: ProviderView
    units: list[UnitView]
    free_beds: int
    stale: bool


def board() -> dict[str, Any]:
    """The values of the bed board's region: totals, the homes and their units, and the map."""
    me, settings, moment = guard.actor(), service().settings, now()
    summary = availability.summary(service().sessions, me, settings=settings, now=moment)
    homes = providers.list_providers(service().sessions, me)
    found = units.list_units(service().sessions, me, units.UnitFilter(), settings=settings,
                             now=moment)  # fmt: skip
    by_home: dict[str, list[UnitView]] = defaultdict(list)
    for unit in found:
        by_home[unit.provider_id].append(unit)
    stale_ids = {s.id for s in summary.stale_homes}
    rows = [
        HomeRow(
            h, by_home[h.id], sum(max(u.free_beds, 0) for u in by_home[h.id]), h.id in stale_ids
        )
        for h in sorted(homes, key=lambda h: h.name)
    ]
    picture = drawing.home_map([
        drawing.Home(r.home.id, r.home.name, r.home.town, r.home.lon, r.home.lat, r.free_beds,
                     r.stale)
        for r in rows
    ])  # fmt: skip
    designations = [d for d in DESIGNATIONS if d in summary.national] + sorted(
        d for d in summary.national if d not in DESIGNATIONS and d != "all"
    )
    return {
        "summary": summary,
        "national": summary.national.get("all", availability.Totals()),
        "designations": designations,
        "nations": [n for n in NATIONS if n in summary.nations],
        "nation_names": NATION_NAMES,
        "rows": rows,
        "map": picture,
        "now": moment,
        "stale_hours": settings.stale_hours,
        "hours_since": lambda moment_: (now() - moment_).total_seconds() / 3600,
        "sentence": sentence,
    }


@blp.get("")
@for_roles("admin")
def dashboard() -> Any:
    """The national bed board: totals by designation and nation, every home's units, the map."""
    return render_template("pages/coordinator/dashboard.html", **board())


@blp.get("/board-fragment")
@for_roles("admin")
def board_fragment() -> Any:
    """The bed board's region alone, for the page to refresh it."""
    return render_template("pages/coordinator/_board.html", **board())


# The waiting list.


@dataclass(frozen=True)
class WaitingChild:
    """A request on the waiting list, with the authority's name and why it is urgent."""

    request: RequestView
    authority_name: str
    days_waiting: int
    overdue: bool


def urgency(view: RequestView) -> tuple[Any, ...]:
    """Most urgent first: past 72 hours without an order, near it, an order run out or running
    out, then the soonest needed, then the longest waiting."""
    level = (
        0 if view.without_order_breach
        else 1 if view.without_order_warning
        else 2 if view.order_expired
        else 3 if view.order_expiring
        else 4
    )  # fmt: skip
    hours = -view.hours_without_order_last_28_days if level < 2 else 0.0
    return (level, hours, view.needed_by or LATEST, view.created_at, view.id)


def whole_waiting_list() -> list[RequestView]:
    """Every request still without a bed, read a page at a time (each page's reads audited)."""
    found: list[RequestView] = []
    for status in WAITING_STATUSES:
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
    return sorted(found, key=urgency)


@blp.get("/waiting")
@for_roles("admin")
def waiting() -> Any:
    """Children waiting for a bed in every authority, most urgent first, with their clocks."""
    moment = now()
    everyone = whole_waiting_list()
    names = {a.id: a.name for a in authorities.list_authorities(service().sessions, guard.actor())}
    page = page_number()
    shown = everyone[(page - 1) * WAITING_PAGE : page * WAITING_PAGE]
    children = [
        WaitingChild(
            r,
            names.get(r.authority_id, r.authority_id),
            (moment - r.created_at).days,
            r.needed_by is not None and r.needed_by <= moment,
        )
        for r in shown
    ]
    return render_template(
        "pages/coordinator/waiting.html",
        children=children,
        total=len(everyone),
        breaches=sum(r.without_order_breach for r in everyone),
        warnings=sum(r.without_order_warning and not r.without_order_breach for r in everyone),
        first=(page - 1) * WAITING_PAGE + 1,
        pagination=paging(page, len(everyone), WAITING_PAGE, ".waiting"),
        sexes=SEXES,
        sentence=sentence,
    )


# Escalation: demand now, thresholds, episodes and meetings.


@blp.get("/escalations", endpoint="escalations")
@for_roles("admin")
def escalations_page() -> Any:
    """Demand against the thresholds now, the escalation episodes and the escalation meetings."""
    me, page = guard.actor(), page_number()
    rules = escalations.demand_now(service().sessions, me, settings=service().settings, now=now())
    episodes = escalations.list_episodes(service().sessions, me, page_size=EPISODES_SHOWN)
    called: Page[meetings.MeetingView] = meetings.list_meetings(
        service().sessions,
        me,
        meetings.MeetingFilter(kind="escalation", page=page, page_size=MEETINGS_PAGE),
    )
    return render_template(
        "pages/coordinator/escalations.html",
        rules=rules,
        episodes=episodes,
        open_episode=next((e for e in episodes.items if e.is_open), None),
        meetings=called,
        pagination=paging(page, called.total, MEETINGS_PAGE, ".escalations"),
        comparisons=COMPARISONS,
        level_of=level_words,
        sentence=sentence,
    )


def level_words(value: float | None) -> str:
    """A threshold level or a measure as a person reads it: '25', '2.5', or 'None'."""
    if value is None:
        return "None"
    return f"{value:g}"


class ThresholdForm(FlaskForm):  # type: ignore[misc]
    """A threshold rule's new setting."""

    enabled = RadioField(
        "Is this rule on?",
        choices=[SelectChoice("yes", "Yes, it can open an escalation"), SelectChoice("no", "No")],
        validate_choice=False,
        validators=[
            InputRequired("Select whether the rule is on"),
            AnyOf(["yes", "no"], "Select whether the rule is on"),
        ],
    )
    amber = LevelField(
        "Amber level",
        validators=[Optional(), NumberRange(0, 1e6, "Amber level must be between 0 and 1000000")],
    )
    red = LevelField(
        "Red level",
        validators=[Optional(), NumberRange(0, 1e6, "Red level must be between 0 and 1000000")],
    )


def the_rule(rule: str) -> thresholds.RuleSetting:
    """The rule of this name (404 for none)."""
    rules = thresholds.list_rules(service().sessions, guard.actor())
    if rule not in rules:
        raise NotFound(f"There is no threshold rule called {rule!r}.")
    return rules[rule]


@blp.route("/thresholds/<rule>", methods=["GET", "POST"])
@for_roles("admin")
def threshold(rule: str) -> Any:
    """Change a threshold rule: turn it on or off, set its amber and red levels."""
    setting = the_rule(rule)
    if request.method == "GET":
        form = ThresholdForm(data={"enabled": "yes" if setting.enabled else "no",
                                   "amber": setting.amber, "red": setting.red})  # fmt: skip
        return show_threshold(form, setting)
    form = ThresholdForm()
    if not form.validate():
        return show_threshold(form, setting, status=422)
    wanted = thresholds.RuleChange(form.enabled.data == "yes", form.amber.data, form.red.data)
    try:
        thresholds.change(service().sessions, guard.actor(), {rule: wanted}, now=now())
    except InvalidInput as error:
        for message in (error.errors or {}).get(rule, [error.message]):
            add_error(form, *threshold_error(setting, str(message)))
        return show_threshold(form, setting, status=422)
    flash(f"Threshold changed: {setting.description}", "success")
    return redirect(url_for(".escalations"))


def threshold_error(setting: thresholds.RuleSetting, message: str) -> tuple[str, str]:
    """The field of one of the use case's errors and what to say there."""
    if "needs an amber or a red level" in message:
        return "amber", "Enter an amber level, a red level or both, or turn the rule off"
    if "amber level must be" in message:
        side = "above" if setting.comparison == "at_or_below" else "below"
        return "amber", f"Amber level must be {side} the red level"
    return "amber", sentence(message)


def add_error(form: FlaskForm, name: str, message: str) -> None:
    """One more error at a field (the error summary links to it)."""
    field = form[name]
    field.errors = [*field.errors, message]


def show_threshold(form: ThresholdForm, setting: thresholds.RuleSetting, *,
                   status: int = 200) -> Any:  # fmt: skip
    """The form of one threshold rule."""
    return render_template(
        "pages/coordinator/threshold.html",
        form=form,
        setting=setting,
        comparison=COMPARISONS[setting.comparison],
        level_of=level_words,
        sentence=sentence,
    ), status


# The declines report.


def bars_of(counts: dict[str, int], names: dict[str, str] | None = None) -> drawing.Chart:
    """A bar chart of counts, largest first, each labelled in words."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return drawing.bar_chart(
        [((names or {}).get(key) or sentence(key), value) for key, value in ordered]
    )


@blp.get("/declines")
@for_roles("admin")
def declines() -> Any:
    """Who declines whom and why, with charts, and acceptance by kind of child."""
    period = request.args.get("period", "all")
    if period not in PERIODS:
        period = "all"
    days = PERIODS[period]
    since = now() - timedelta(days=days) if days else None
    report = reports.declines(service().sessions, guard.actor(), since=since)
    names = {p.id: p.name for p in providers.list_providers(service().sessions, guard.actor())}
    by_home = {home: sum(reasons.values()) for home, reasons in report.declines_by_provider.items()}
    declined = sum(report.declines_by_reason.values())
    return render_template(
        "pages/coordinator/declines.html",
        report=report,
        declined=declined,
        accepted=report.answers - declined,
        since=since,
        period=period,
        periods=PERIOD_WORDS,
        reason_chart=bars_of(report.declines_by_reason),
        home_chart=bars_of(by_home, names),
        by_home=sorted(by_home.items(), key=lambda item: (-item[1], names.get(item[0], item[0]))),
        names=names,
        groups=[
            ("By sex", report.by_sex, lambda g: sentence(SEXES.get(g) or g)),
            ("By age", report.by_age_band, lambda g: f"Aged {g.replace('-', ' to ')}"),
            ("By legal basis", report.by_legal_basis, sentence),
            ("By flag", report.by_flag, lambda g: "No flags" if g == "none" else sentence(g)),
        ],
        sentence=sentence,
    )
