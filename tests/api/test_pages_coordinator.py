"""The national coordinator's pages: the bed board and its map, the waiting list, escalation and
thresholds, and the declines report with its chart; nobody else reaches them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from api.pages import coordinator, drawing, outline
from placements import availability, demand, escalations, offers, reports, requests, thresholds
from placements.auth import Actor
from placements.clock import FixedClock
from placements.db import Sessions
from placements.errors import Forbidden
from placements.providers import list_providers
from tests.api.pages import PageClient
from tests.conftest import NOW
from tests.placements.casework import open_requests
from tests.placements.workflow import ADMIN, SETTINGS, SOUTHWARK, director, offered_request
from tests.placements.workflow import welfare_facts as facts

FREE_TOTAL = re.compile(r'<span id="free-beds-total">(\d+)</span>')
DOT = re.compile(r'<g class="app-map__home" data-home="([^"]+)">\s*<title>([^<]*)</title>')
BAR = re.compile(r'<g class="app-chart__bar" data-label="([^"]+)" data-value="(\d+)">\s*'
                 r'<text[^>]*>[^<]*</text>\s*<rect x="0" y="[\d.]+" width="([\d.]+)"')  # fmt: skip
CASE = re.compile(r'<th scope="row" class="govuk-table__header">\s*([A-Z0-9-]+)\s*<span')
PAGES = ["/coordinator", "/coordinator/board-fragment", "/coordinator/waiting",
         "/coordinator/escalations", "/coordinator/declines",
         "/coordinator/thresholds/open_welfare_requests"]  # fmt: skip


@pytest.fixture
def coordinator_page(signed_in: Callable[..., PageClient]) -> PageClient:
    """The national coordinator, signed in."""
    return signed_in("admin", "coordinator@example.org")


def text(answer: TestResponse) -> str:
    """A response's HTML."""
    return answer.get_data(as_text=True)


def row_of(html: str, marker: str) -> str:
    """The table row carrying a data attribute value (a unit's or a request's id)."""
    found = re.search(rf'<tr class="govuk-table__row" data-[a-z]+="{re.escape(marker)}">(.*?)</tr>',
                      html, re.S)  # fmt: skip
    assert found, f"no row for {marker}"
    return found.group(1)


def cells(row: str) -> list[str]:
    """The texts of a row's cells, tags removed."""
    found = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in found]


# The bed board.


def test_the_bed_board_shows_national_totals_every_home_and_unit_and_a_map(
    coordinator_page: PageClient, seeded: Sessions
) -> None:
    page = coordinator_page.get("/coordinator")
    assert page.status_code == 200
    html = text(page)
    summary = availability.summary(seeded, ADMIN, settings=SETTINGS, now=NOW)
    assert '<h1 class="govuk-heading-l">National bed board</h1>' in html
    found = FREE_TOTAL.search(html)
    assert found and int(found.group(1)) == summary.national["all"].free
    assert "Free beds by designation and nation" in html and "Beds by home and unit" in html
    nene = cells(row_of(html, "clare-lodge/nene"))
    assert nene[0].startswith("Clare Lodge") and nene[1] == "Nene"
    assert re.search(r'<th scope="col" class="[^"]*">Free</th>', html)
    homes = list_providers(seeded, ADMIN)
    dots = DOT.findall(html)
    assert sorted(d for d, _ in dots) == sorted(h.id for h in homes)  # one dot per home
    assert all(title.startswith(f"{h.name}, {h.town}: ") for h in homes
               for d, title in dots if d == h.id)  # fmt: skip
    assert 'role="img" aria-labelledby="map-caption"' in html and 'id="map-caption"' in html
    assert 'viewBox="0 0 ' in html and 'width="100%"' in html
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    assert "style=" not in main and "<script" not in main  # the CSP allows neither
    assert "http" not in main.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no tiles
    for path in PAGES[2:5]:
        assert f'<a class="govuk-service-navigation__link" href="{path}"' in html
    assert 'hx-get="/coordinator/board-fragment" hx-trigger="every 30s" hx-swap="outerHTML"' in html
    assert 'aria-live="polite"' in html


def test_freeing_a_bed_through_the_api_changes_the_free_beds_shown(
    coordinator_page: PageClient,
    app: Flask,
    seeded: Sessions,
    bearer: Callable[..., dict[str, str]],
) -> None:
    before = FREE_TOTAL.search(text(coordinator_page.get("/coordinator")))
    assert before
    api, clare = app.test_client(), bearer("provider", provider_id="clare-lodge")
    unit = api.get("/units/clare-lodge/nene", headers=clare)
    body = {"staffed_beds": unit.json["staffed_beds"],
            "occupied_beds": unit.json["occupied_beds"] - 1}  # fmt: skip
    freed = api.put("/units/clare-lodge/nene/availability", json=body,
                    headers={**clare, "If-Match": unit.headers["ETag"]})  # fmt: skip
    assert freed.status_code == 200, freed.json
    region = coordinator_page.get("/coordinator/board-fragment")
    assert region.status_code == 200 and "<html" not in text(region)
    assert text(region).startswith('<div id="board-region"')
    after = FREE_TOTAL.search(text(region))
    assert after and int(after.group(1)) == int(before.group(1)) + 1
    assert cells(row_of(text(region), "clare-lodge/nene"))[6] == str(freed.json["free_beds"])
    clare_dot = next(t for d, t in DOT.findall(text(region)) if d == "clare-lodge")
    free_at_clare = sum(
        api.get(f"/units/clare-lodge/{u}", headers=clare).json["free_beds"]
        for u in ("nene", "welland")
    )
    assert f": {free_at_clare} free bed" in clare_dot


def test_homes_not_updated_within_the_stale_period_are_flagged(
    signed_in: Callable[..., PageClient], seeded: Sessions, clock: FixedClock
) -> None:
    fresh = text(signed_in("admin", "a@example.org").get("/coordinator"))
    assert "Every home has updated its bed counts within 24 hours" in fresh
    assert ">Stale<" not in fresh.replace("\n", "").replace(" ", "")
    clock.set(NOW + timedelta(hours=30))
    late = text(signed_in("admin", "b@example.org").get("/coordinator"))
    assert "Stale" in late and "Not updated for 30 hours" in late
    stale = availability.summary(seeded, ADMIN, settings=SETTINGS, now=clock.now()).stale_homes
    assert len(stale) >= 2  # every active home
    assert f"{len(stale)} homes have not updated their bed counts for more than 24 hours" in late
    assert all(f"<li>{home.name}: not updated since " in late for home in stale)
    assert "(counts stale)" in late and 'stroke-dasharray="4 2"' in late


def test_the_map_puts_each_home_where_it_is_and_never_overlaps_dots() -> None:
    homes = [
        drawing.Home("a", "A", "Salford", -2.405, 53.468, 0),
        drawing.Home("b", "B", "St Helens", -2.700, 53.475, 16),
        drawing.Home("c", "C", "Hailsham", 0.258, 50.864, 4),
        drawing.Home("d", "D", "Neath", -3.804, 51.663, 1),
        drawing.Home("e", "E", "Same place", -3.804, 51.663, 1),
    ]
    picture = drawing.home_map(homes)
    dots = {d.home.id: d for d in picture.dots}
    assert len(picture.dots) == 5
    for dot in picture.dots:
        assert 0 < dot.x < picture.width and 0 < dot.y < picture.height
    for i, a in enumerate(picture.dots):
        for b in picture.dots[i + 1 :]:
            assert ((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5 >= a.r + b.r
    assert dots["c"].x > dots["b"].x > dots["d"].x  # east is right
    assert dots["c"].y > dots["a"].y  # south is down
    assert dots["b"].r > dots["c"].r > dots["a"].r == drawing.DOT_SMALLEST
    assert drawing.radius(10_000) == drawing.DOT_LARGEST
    # Equirectangular at 54°: a degree of longitude is cos 54° of a degree of latitude.
    project = drawing.Projection([outline.MAINLAND])
    (x0, y0), (x1, y1) = project(-2, 53), project(-1, 52)
    assert round((x1 - x0) / (y1 - y0), 3) == round(drawing.PARALLEL, 3)
    assert picture.view_box == f"0 0 {picture.width:.0f} {picture.height:.0f}"
    assert 200 <= len(outline.MAINLAND) <= 400 and picture.land.count("M") == 3


def test_only_the_coordinator_reaches_these_pages(
    signed_in: Callable[..., PageClient], app: Flask, seeded: Sessions
) -> None:
    someone = signed_in("director", "director.southwark@example.org", authority_id="southwark")
    for path in PAGES:
        refused = someone.get(path)
        assert refused.status_code == 403, path
        assert "This page is for the national coordinator" in text(refused)
    stranger = app.test_client()
    for path in PAGES:
        answer = stranger.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/sign-in")


# The waiting list.


def test_the_waiting_list_shows_every_authoritys_children_most_urgent_first(
    coordinator_page: PageClient, seeded: Sessions
) -> None:
    old = requests.create(seeded, SOUTHWARK, facts("SWK-OLD"), now=NOW - timedelta(days=3))
    soon = requests.create(seeded, director("surrey"),
                           facts("SRY-SOON", needed_by=NOW + timedelta(hours=6)),
                           now=NOW - timedelta(hours=1))  # fmt: skip
    offered_request(seeded, "clare-lodge/nene", "SWK-OFFERED", now=NOW - timedelta(days=1))
    placed = requests.create(seeded, SOUTHWARK, facts("SWK-GONE"), now=NOW)
    requests.withdraw(seeded, SOUTHWARK, placed.id, now=NOW)
    page = coordinator_page.get("/coordinator/waiting")
    assert page.status_code == 200
    html = text(page)
    assert '<h1 class="govuk-heading-l">Waiting list</h1>' in html
    assert ">Children waiting</caption>" in html
    shown = CASE.findall(html)
    assert shown == ["SRY-SOON", "SWK-OLD", "SWK-OFFERED"]  # needed soonest, then oldest
    assert "3 children are waiting" in html and "SWK-GONE" not in html
    soon_row = cells(row_of(html, soon.id))
    assert soon_row[:3] == ["SRY-SOON Surrey County Council", "15, female, welfare (section 25)",
                            "No offer yet"]  # fmt: skip
    assert soon_row[4] == "21 November 2026, 3:00pm" and soon_row[6] == "No order yet"
    assert cells(row_of(html, old.id))[3] == "18 November 2026 3 days"
    assert "Offered" in html


def test_the_most_urgent_clock_comes_first(seeded: Sessions) -> None:
    base = requests.create(seeded, SOUTHWARK, facts("SWK-1"), now=NOW)
    later = NOW + timedelta(days=1)
    plain = replace(base, id="plain", created_at=NOW - timedelta(days=9))
    needed = replace(base, id="needed", needed_by=later)
    expiring = replace(base, id="expiring", order_expiring=True)
    expired = replace(base, id="expired", order_expired=True)
    near = replace(base, id="near", without_order_warning=True,
                   hours_without_order_last_28_days=50)  # fmt: skip
    over = replace(base, id="over", without_order_warning=True, without_order_breach=True,
                   hours_without_order_last_28_days=75)  # fmt: skip
    further = replace(over, id="further", hours_without_order_last_28_days=90)
    views = [plain, needed, expiring, expired, near, over, further]
    assert [v.id for v in sorted(views, key=coordinator.urgency)] == [
        "further",
        "over",
        "near",
        "expired",
        "expiring",
        "needed",
        "plain",
    ]


def test_a_long_waiting_list_is_read_in_pages_and_shown_in_pages(
    coordinator_page: PageClient, seeded: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coordinator, "READ_PAGE", 2)
    monkeypatch.setattr(coordinator, "WAITING_PAGE", 3)
    made = [requests.create(seeded, SOUTHWARK, facts(f"SWK-{n}"), now=NOW - timedelta(hours=n))
            for n in range(5)]  # fmt: skip
    first = text(coordinator_page.get("/coordinator/waiting"))
    assert "Children waiting (1 to 3 of 5)" in first
    assert [r.case_reference for r in made[:1:-1]] == CASE.findall(first)
    second = text(coordinator_page.get("/coordinator/waiting?page=2"))
    assert "Children waiting (4 to 5 of 5)" in second
    assert CASE.findall(second) == ["SWK-1", "SWK-0"]
    assert 'href="/coordinator/waiting?page=1"' in second


def test_reading_the_waiting_list_is_audited_as_the_api_does(
    coordinator_page: PageClient, seeded: Sessions
) -> None:
    from sqlalchemy import select

    from placements.models import AuditEvent

    made = requests.create(seeded, SOUTHWARK, facts("SWK-AUDIT"), now=NOW)
    coordinator_page.get("/coordinator/waiting")
    with seeded.read() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "request.read_list")
        ).all()
    assert [e.actor_label for e in events] == ["coordinator@example.org"]
    assert events[0].after == {"request_ids": [made.id]}


# Escalation and thresholds.


def test_escalation_shows_demand_against_thresholds_episodes_and_meetings(
    coordinator_page: PageClient, seeded: Sessions
) -> None:
    calm = text(coordinator_page.get("/coordinator/escalations"))
    assert "No escalation is open" in calm and "No escalation meeting has been called" in calm
    open_requests(seeded, 26, at=NOW)
    checked = demand.check(seeded, SETTINGS, now=NOW + timedelta(minutes=5))
    assert checked.episode_id and checked.meeting_id
    page = coordinator_page.get("/coordinator/escalations")
    assert page.status_code == 200
    html = text(page)
    assert "An escalation has been open since" in html
    welfare = cells(row_of(html, "open_welfare_requests"))
    assert welfare[0] == "Open welfare requests" and welfare[1] == "26"
    assert welfare[2] == "above 25" and welfare[3] == "above 37" and welfare[4].startswith("Amber")
    assert welfare[5] == "Change the threshold for open welfare requests"
    assert cells(row_of(html, checked.episode_id))[4] == "Open"
    meeting = cells(row_of(html, checked.meeting_id))
    assert meeting[2] == "Amber" and meeting[3].startswith("Called") and meeting[5] == "26"


def test_only_admins_read_episodes_and_demand_measured_now(seeded: Sessions) -> None:
    for actor in (SOUTHWARK, Actor("chair", "panel", panel_id="review-southwark")):
        with pytest.raises(Forbidden):
            escalations.list_episodes(seeded, actor)
        with pytest.raises(Forbidden):
            escalations.demand_now(seeded, actor, settings=SETTINGS, now=NOW)
    measured = escalations.demand_now(seeded, ADMIN, settings=SETTINGS, now=NOW)
    assert [r.rule for r in measured] == list(thresholds.DEFAULTS)
    assert all(r.level is None for r in measured)  # the seed alone breaches nothing
    assert escalations.list_episodes(seeded, ADMIN).total == 0


def test_the_coordinator_changes_a_threshold(
    coordinator_page: PageClient, seeded: Sessions
) -> None:
    path = "/coordinator/thresholds/open_welfare_requests"
    form = coordinator_page.get(path)
    assert form.status_code == 200
    for label in ('for="amber"', 'for="red"', "Is this rule on?", "Save threshold",
                  'value="25"', 'value="37"'):  # fmt: skip
        assert label in text(form)
    saved = coordinator_page.submit(path, {"enabled": "yes", "amber": "30", "red": "40.5"})
    assert saved.status_code == 200
    assert "Threshold changed: open welfare requests" in text(saved)
    rule = thresholds.list_rules(seeded, ADMIN)["open_welfare_requests"]
    assert (rule.enabled, rule.amber, rule.red) == (True, 30, 40.5)
    assert cells(row_of(text(saved), "open_welfare_requests"))[2] == "above 30"
    off = coordinator_page.submit(path, {"enabled": "no", "amber": "", "red": ""})
    assert off.status_code == 200 and "Off" in cells(row_of(text(off), "open_welfare_requests"))[0]
    assert not thresholds.list_rules(seeded, ADMIN)["open_welfare_requests"].enabled


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"enabled": "yes", "amber": "50", "red": "40"}, "amber",
         "Amber level must be below the red level"),
        ({"enabled": "yes", "amber": "", "red": ""}, "amber",
         "Enter an amber level, a red level or both, or turn the rule off"),
        ({"enabled": "yes", "amber": "lots", "red": ""}, "amber",
         "Amber level must be a number, like 25"),
        ({"enabled": "yes", "amber": "1", "red": "-3"}, "red",
         "Red level must be between 0 and 1000000"),
        ({"amber": "1"}, "enabled", "Select whether the rule is on"),
    ],
)  # fmt: skip
def test_a_threshold_the_service_refuses_is_explained_at_its_field(
    coordinator_page: PageClient, seeded: Sessions, answers: dict[str, str], field: str,
    message: str,
) -> None:  # fmt: skip
    path = "/coordinator/thresholds/open_welfare_requests"
    refused = coordinator_page.submit(path, answers)
    assert refused.status_code == 422
    html = text(refused)
    assert f'<a href="#{field}">{message}</a>' in html  # the error summary
    assert f'id="{field}-error"' in html and message in html.split(f'id="{field}-error"', 1)[1]
    assert thresholds.list_rules(seeded, ADMIN)["open_welfare_requests"].amber == 25


def test_an_unknown_threshold_is_not_found_and_a_form_without_its_token_is_refused(
    coordinator_page: PageClient, seeded: Sessions
) -> None:
    assert coordinator_page.get("/coordinator/thresholds/nonsense").status_code == 404
    forged = coordinator_page.post("/coordinator/thresholds/open_welfare_requests",
                                   {"enabled": "no"})  # fmt: skip
    assert forged.status_code == 400
    assert thresholds.list_rules(seeded, ADMIN)["open_welfare_requests"].enabled


# The declines report.


def decline(sessions: Sessions, unit_id: str, reference: str, reason: str) -> None:
    """A request offered to one unit, which its home declined 20 days ago."""
    offer_id = offered_request(sessions, unit_id, reference, now=NOW - timedelta(days=20))
    home = Actor("staff", "provider", provider_id=unit_id.split("/")[0])
    offers.decline(sessions, home, offer_id, reason, None, now=NOW - timedelta(days=20))


def test_the_declines_report_has_a_chart_whose_bars_match_its_numbers(
    coordinator_page: PageClient, seeded: Sessions
) -> None:
    empty = text(coordinator_page.get("/coordinator/declines"))
    assert "No home has answered an offer" in empty and "app-chart" not in empty
    decline(seeded, "clare-lodge/nene", "D-1", "no_staffed_bed")
    decline(seeded, "clare-lodge/nene", "D-2", "no_staffed_bed")
    decline(seeded, "adel-beck/cedar", "D-3", "location")
    decline(seeded, "clare-lodge/welland", "D-4", "mix_of_residents")
    report = reports.declines(seeded, ADMIN)
    page = coordinator_page.get("/coordinator/declines")
    assert page.status_code == 200
    html = text(page)
    assert "4 answers to offers: 0 accepted, 4 declined." in html
    by_reason, by_home = html.split("Declines by home", 1)
    bars = BAR.findall(by_reason)
    assert [(label, int(value)) for label, value, _ in bars] == [
        ("No staffed bed", 2), ("Location", 1), ("Mix of residents", 1)
    ]  # fmt: skip
    assert {label: int(value) for label, value, _ in bars} == {
        coordinator.sentence(k): v for k, v in report.declines_by_reason.items()
    }
    widths = [float(width) for _, _, width in bars]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[1] == pytest.approx(widths[2])
    assert (
        'role="img" aria-label="Bar chart of declines by reason: No staffed bed 2, Location 1,'
        in html
    )
    assert [(label, int(value)) for label, value, _ in BAR.findall(by_home)] == [
        ("Clare Lodge", 3), ("Adel Beck", 1)
    ]  # fmt: skip
    reasons_table = cells(html.split('id="declines-by-reason"', 1)[1].split("</table>", 1)[0])
    assert reasons_table[2:] == ["No staffed bed", "2", "Location", "1", "Mix of residents", "1"]
    assert "By legal basis" in html and "Aged 15 to 17" in html
    recent = text(coordinator_page.get("/coordinator/declines?period=7"))
    assert "No home has answered an offer since" in recent and "app-chart__bar" not in recent
    assert "4 answers" in text(coordinator_page.get("/coordinator/declines?period=30"))
    assert "4 answers" in text(coordinator_page.get("/coordinator/declines?period=zzz"))


def test_the_bar_chart_scales_its_longest_bar_to_the_room_it_has() -> None:
    chart = drawing.bar_chart([("A", 10), ("B", 5), ("C", 0)], width=400)
    assert [b.length for b in chart.bars] == [352.0, 176.0, 0.0]
    assert all(b.value_x > b.length for b in chart.bars)
    assert chart.bars[0].bar_y < chart.bars[1].label_y < chart.bars[1].bar_y
    assert drawing.bar_chart([]).bars == []
