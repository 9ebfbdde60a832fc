"""The placement workflow through its use cases: requests, offers, admission, batch runs."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

import solver
from placements import admissions, matching, offers, requests
from placements.acceptance import load_history
from placements.db import Sessions
from placements.errors import Forbidden, InvalidInput, InvalidTransition, NotFound
from placements.live import child_of, live_units, rank_request
from placements.models import AuditEvent, PlacementRequest
from solver.check import violations
from tests.conftest import NOW
from tests.placements.workflow import (
    ADMIN,
    SETTINGS,
    SOUTHWARK,
    SURREY,
    counts,
    director,
    offered_request,
    set_free_beds,
    synthetic_facts,
    welfare_facts,
)

UNIT = "swanwick-lodge/1"
CLARE = "clare-lodge/nene"


def provider(provider_id: str):  # type: ignore[no-untyped-def]
    from placements.auth import Actor

    return Actor(f"staff-{provider_id}", "provider", provider_id=provider_id)


def test_a_decline_excludes_the_provider_and_the_request_waits_again(seeded: Sessions) -> None:
    set_free_beds(seeded, CLARE, 2, now=NOW)
    offer_id = offered_request(seeded, CLARE, "SWK-1", now=NOW)
    declined = offers.decline(seeded, provider("clare-lodge"), offer_id, "mix_of_residents", None,
                              now=NOW)  # fmt: skip
    assert declined.status == "declined"
    request = requests.get(seeded, SOUTHWARK, declined.request_id, now=NOW)
    assert request.status == "waiting" and request.declined_by == ["clare-lodge"]
    ranked = matching.options(seeded, SOUTHWARK, request.id, settings=SETTINGS, now=NOW)
    clare = [e for e in ranked.excluded if e["unit_id"].startswith("clare-lodge/")]
    assert clare and all("declined" in e["reasons"] for e in clare)
    assert not any(o["unit_id"].startswith("clare-lodge/") for o in ranked.options)


def test_admission_then_discharge_leaves_the_counts_as_before_the_accept(seeded: Sessions) -> None:
    set_free_beds(seeded, CLARE, 2, now=NOW)
    offer_id = offered_request(seeded, CLARE, "SWK-2", now=NOW)
    before = counts(seeded, CLARE)
    accepted = offers.accept(seeded, provider("clare-lodge"), offer_id, settings=SETTINGS, now=NOW)
    assert counts(seeded, CLARE) == (before[0], before[1] + 1, before[2] - 1)
    placed = admissions.admit(seeded, SOUTHWARK, accepted.request_id, NOW, now=NOW)
    assert counts(seeded, CLARE) == (before[0] + 1, before[1], before[2] - 1)
    assert placed.next_review_due == NOW.replace(month=12)
    admissions.discharge(seeded, SOUTHWARK, placed.id, NOW + timedelta(days=3), "home",
                         settings=SETTINGS, now=NOW + timedelta(days=3))  # fmt: skip
    assert counts(seeded, CLARE) == before
    assert requests.get(seeded, SOUTHWARK, accepted.request_id, now=NOW).status == "discharged"


def test_an_admitted_childs_flags_count_for_the_mix_rule(seeded: Sessions) -> None:
    set_free_beds(seeded, UNIT, 3, now=NOW)
    victim = requests.create(seeded, SOUTHWARK, welfare_facts("V-1", flags=("cse_victim",)),
                             now=NOW)  # fmt: skip
    made = offers.create_offers(seeded, SOUTHWARK, victim.id, offers.OfferChoice((UNIT,)),
                                settings=SETTINGS, now=NOW)  # fmt: skip
    offers.accept(seeded, provider("swanwick-lodge"), made[0].id, settings=SETTINGS, now=NOW)
    risk = requests.create(seeded, SOUTHWARK, welfare_facts("R-1", sex="M",
                           flags=("sexual_harm_risk",)), now=NOW)  # fmt: skip
    ranked = matching.options(seeded, SOUTHWARK, risk.id, settings=SETTINGS, now=NOW)
    excluded = {e["unit_id"]: e["reasons"] for e in ranked.excluded}
    assert "mix_conflict" in excluded[UNIT]
    with pytest.raises(InvalidInput) as refused:
        offers.create_offers(seeded, SOUTHWARK, risk.id, offers.OfferChoice((UNIT,)),
                             settings=SETTINGS, now=NOW)  # fmt: skip
    assert "mix_conflict" in (refused.value.errors or {})[UNIT]


@pytest.mark.parametrize("step", ["accept_declined", "admit_waiting", "withdraw_placed"])
def test_invalid_transitions_are_refused_with_the_current_status(
    seeded: Sessions, step: str
) -> None:
    set_free_beds(seeded, CLARE, 2, now=NOW)
    offer_id = offered_request(seeded, CLARE, "SWK-3", now=NOW)
    request_id = offers.get_offer(seeded, ADMIN, offer_id, now=NOW).request_id
    clare = provider("clare-lodge")
    with pytest.raises(InvalidTransition) as refused:
        if step == "accept_declined":
            offers.decline(seeded, clare, offer_id, "other", "full", now=NOW)
            offers.accept(seeded, clare, offer_id, settings=SETTINGS, now=NOW)
        elif step == "admit_waiting":
            requests.withdraw(seeded, SOUTHWARK, request_id, now=NOW)
            admissions.admit(seeded, SOUTHWARK, request_id, NOW, now=NOW)
        else:
            offers.accept(seeded, clare, offer_id, settings=SETTINGS, now=NOW)
            admissions.admit(seeded, SOUTHWARK, request_id, NOW, now=NOW)
            requests.withdraw(seeded, SOUTHWARK, request_id, now=NOW)
    assert any(s in refused.value.message for s in ("declined", "withdrawn", "placed"))


def test_expired_offers_put_the_request_back_to_waiting(seeded: Sessions) -> None:
    set_free_beds(seeded, CLARE, 2, now=NOW)
    offer_id = offered_request(seeded, CLARE, "SWK-4", now=NOW)
    assert offers.expire_offers(seeded, now=NOW + timedelta(hours=3)) == 0
    assert offers.expire_offers(seeded, now=NOW + timedelta(hours=4, seconds=1)) == 1
    offer = offers.get_offer(seeded, ADMIN, offer_id, now=NOW)
    assert offer.status == "expired"
    assert requests.get(seeded, ADMIN, offer.request_id, now=NOW).status == "waiting"


def test_a_request_waits_again_only_when_its_last_pending_offer_ends(seeded: Sessions) -> None:
    set_free_beds(seeded, CLARE, 2, now=NOW)
    set_free_beds(seeded, UNIT, 2, now=NOW)
    request = requests.create(seeded, SOUTHWARK, welfare_facts("SWK-9"), now=NOW)
    first, _ = offers.create_offers(
        seeded, SOUTHWARK, request.id, offers.OfferChoice(unit_ids=(CLARE, UNIT)),
        settings=SETTINGS, now=NOW,
    )  # fmt: skip
    offers.decline(seeded, provider("clare-lodge"), first.id, "no_bed", None, now=NOW)
    assert requests.get(seeded, SOUTHWARK, request.id, now=NOW).status == "offered"
    # The second offer ends by expiry: nothing is pending, so the request waits again.
    assert offers.expire_offers(seeded, now=NOW + timedelta(hours=4, seconds=1)) == 1
    assert requests.get(seeded, SOUTHWARK, request.id, now=NOW).status == "waiting"
    # Offered again to two units, one offer expires while the other is still pending: still
    # offered.
    set_free_beds(seeded, "lansdowne/1", 2, now=NOW)
    later = NOW + timedelta(hours=5)
    [again] = offers.create_offers(
        seeded, SOUTHWARK, request.id, offers.OfferChoice(unit_ids=(UNIT,)),
        settings=SETTINGS, now=later,
    )  # fmt: skip
    offers.create_offers(
        seeded, SOUTHWARK, request.id, offers.OfferChoice(unit_ids=("lansdowne/1",)),
        settings=SETTINGS, now=later + timedelta(hours=2),
    )  # fmt: skip
    assert offers.expire_offers(seeded, now=later + timedelta(hours=4, seconds=1)) == 1
    assert offers.get_offer(seeded, ADMIN, again.id, now=later).status == "expired"
    assert requests.get(seeded, SOUTHWARK, request.id, now=later).status == "offered"


def test_a_director_sees_only_their_own_authoritys_requests(seeded: Sessions) -> None:
    mine = requests.create(seeded, SURREY, welfare_facts("SUR-1"), now=NOW)
    with pytest.raises(NotFound):
        requests.get(seeded, SOUTHWARK, mine.id, now=NOW)
    assert requests.list_requests(seeded, SOUTHWARK, requests.RequestFilter(), now=NOW).items == []


def test_reads_outside_the_authority_are_audited(seeded: Sessions) -> None:
    made = requests.create(seeded, SURREY, welfare_facts("SUR-2"), now=NOW)
    requests.get(seeded, SURREY, made.id, now=NOW)
    requests.get(seeded, ADMIN, made.id, now=NOW)
    # Offering reads the request too: audited for the coordinator, not for its own director.
    for actor in (SURREY, ADMIN):
        made_offers = offers.create_offers(seeded, actor, made.id, offers.OfferChoice(top=1),
                                           settings=SETTINGS, now=NOW)  # fmt: skip
        assert len(made_offers) == 1
    with seeded.read() as session:
        reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "request.read")).all()
    assert [(e.actor_label, e.object_id) for e in reads] == [("coordinator", made.id)] * 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"age": 12}, "under_13_approval"),
        ({"grounds": ()}, "grounds"),
        ({"legal_basis": "remand"}, "grounds"),
        ({"authority": requests.LegalAuthority("remand", NOW, NOW + timedelta(days=29))},
         "authority.kind"),
        ({"authority": requests.LegalAuthority("full_order", NOW, NOW + timedelta(days=100))},
         "authority.expires_at"),
        ({"authority": requests.LegalAuthority("full_order", NOW, NOW + timedelta(days=190),
                                               renewal=True)}, "authority.expires_at"),
    ],
)  # fmt: skip
def test_requests_that_break_the_law_are_refused(
    seeded: Sessions, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        requests.create(seeded, SOUTHWARK, welfare_facts("SWK-9", **changes), now=NOW)
    assert field in (refused.value.errors or {})
    assert requests.list_requests(seeded, ADMIN, requests.RequestFilter(), now=NOW).items == []


def test_a_remand_within_28_days_and_a_renewal_within_6_months_are_accepted(
    seeded: Sessions,
) -> None:
    remand = requests.LegalAuthority("remand", NOW, NOW + timedelta(days=28))
    renewal = requests.LegalAuthority("full_order", NOW, NOW + timedelta(days=180), renewal=True)
    requests.create(seeded, SOUTHWARK, welfare_facts("R-1", legal_basis="remand", grounds=(),
                    authority=remand), now=NOW)  # fmt: skip
    made = requests.create(seeded, SOUTHWARK, welfare_facts("R-2", authority=renewal), now=NOW)
    assert made.order_expires_at == NOW + timedelta(days=180)


def test_the_72_hour_clock_counts_stays_without_an_order_in_28_days(seeded: Sessions) -> None:
    set_free_beds(seeded, CLARE, 2, now=NOW)
    offer_id = offered_request(seeded, CLARE, "SWK-72", now=NOW)
    request_id = offers.accept(seeded, provider("clare-lodge"), offer_id, settings=SETTINGS,
                               now=NOW).request_id  # fmt: skip
    admissions.admit(seeded, SOUTHWARK, request_id, NOW, now=NOW)
    at_50 = requests.get(seeded, SOUTHWARK, request_id, now=NOW + timedelta(hours=50))
    assert at_50.hours_without_order_last_28_days == 50 and at_50.without_order_warning
    again = requests.create(seeded, SOUTHWARK, welfare_facts("SWK-72"), now=NOW)
    later = requests.get(seeded, SOUTHWARK, again.id, now=NOW + timedelta(hours=10))
    assert later.hours_without_order_last_28_days == 10 and not later.without_order_warning


def test_a_waiting_request_goes_stale_after_14_days_and_an_update_resets_it(
    seeded: Sessions,
) -> None:
    made = requests.create(seeded, SOUTHWARK, welfare_facts("SWK-5"), now=NOW)
    later = NOW + timedelta(days=15)
    assert requests.get(seeded, SOUTHWARK, made.id, now=later).stale
    stale = requests.list_requests(seeded, SOUTHWARK, requests.RequestFilter(stale=True), now=later)
    assert [r.id for r in stale.items] == [made.id]
    updated = requests.update_facts(
        seeded, SOUTHWARK, made.id, {"age": 16}, settings=SETTINGS, now=later
    )
    assert updated.age == 16 and not updated.stale


def test_a_batch_run_over_forty_waiting_requests_obeys_every_rule(seeded: Sessions) -> None:
    rng = random.Random(7)
    for n in range(40):
        authority, facts = synthetic_facts(rng, n, now=NOW)
        requests.create(seeded, director(authority), facts, now=NOW - timedelta(days=n % 9))
    run = matching.run_batch(seeded, ADMIN, settings=SETTINGS, now=NOW)
    assert run.placed == run.placed_bound == len(run.proposals) > 0
    assert len(run.proposals) + len(run.unplaced) == 40
    with seeded.read() as session:
        _, units = live_units(session)
        history = load_history(session)
        rows = session.scalars(select(PlacementRequest).order_by(PlacementRequest.id)).all()
        providers = sorted({u.provider_id for u in units})
        children = [child_of(r, history, providers, now=NOW) for r in rows]
    problem = solver.Problem(tuple(units), tuple(children), SETTINGS.incompatible_flags)
    proposed = solver.Solution(
        run.status, run.placed, run.placed_bound, run.score, run.score_bound,
        tuple(solver.Assignment(p["child_id"], p["unit_id"], p["score"]) for p in run.proposals),
        tuple(solver.Unplaced(u["child_id"], u["reasons"]) for u in run.unplaced),
        run.solve_seconds,
    )  # fmt: skip
    assert violations(problem, proposed) == []
    sent = matching.offer_run(seeded, ADMIN, run.id, settings=SETTINGS, now=NOW)
    assert len(sent.offers) + len(sent.skipped) == len(run.proposals) and sent.offers


def test_a_run_offered_in_one_step_offers_each_proposal_as_ranked_on_the_live_state(
    seeded: Sessions,
) -> None:
    rng = random.Random(7)
    for n in range(40):
        authority, facts = synthetic_facts(rng, n, now=NOW)
        requests.create(seeded, director(authority), facts, now=NOW - timedelta(days=n % 9))
    with pytest.raises(Forbidden):
        matching.run_and_offer(seeded, SOUTHWARK, settings=SETTINGS, now=NOW)
    done = matching.run_and_offer(seeded, ADMIN, settings=SETTINGS, now=NOW)
    run = done.run
    assert run.placed == len(run.proposals) > 0 and done.skipped == []
    assert matching.get_run(seeded, ADMIN, run.id) == run
    assert {(o.request_id, o.unit_id) for o in done.offers} == {
        (p["child_id"], p["unit_id"]) for p in run.proposals
    }
    # Ranked on the run's own read, each offer is what a ranking on the live state gives now.
    with seeded.read() as session:
        for offer in done.offers:
            request = session.get(PlacementRequest, offer.request_id)
            assert request is not None and request.status == "offered"
            _, ranking = rank_request(session, request, SETTINGS, NOW)
            option = next(o for o in ranking.options if o.unit_id == offer.unit_id)
            assert (offer.score, offer.provider_id, offer.matching_run_id) == (
                option.score,
                option.provider_id,
                run.id,
            )
    # The proposals are offered now: a second run finds them no longer waiting.
    again = matching.run_and_offer(seeded, ADMIN, settings=SETTINGS, now=NOW)
    assert not {p["child_id"] for p in again.run.proposals} & {o.request_id for o in done.offers}
