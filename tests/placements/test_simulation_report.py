"""The simulation's summary over seeds and its report page (synthetic results, no database)."""

from __future__ import annotations

import json
import math
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import t

from placements.simulation.report import summarise, write_report, write_summary

CALIBRATION: list[dict[str, Any]] = [
    {
        "figure": "Welfare referrals a year",
        "published": "about 500",
        "tolerance": "±15%",
        "simulated": 497.0,
        "within": True,
    },
    {
        "figure": "Share of welfare referrals placed",
        "published": "about 40%",
        "tolerance": "±10 points",
        "simulated": None,
        "within": None,
    },
]
PARAMETERS = {"days": 30, "seeds": [1, 2, 3], "scenario": None, "sha256": "ab" * 32}
# placed by policy and seed: mean 520 and sample standard deviation 20 for ranked
PLACED = {"ranked": (500, 520, 540), "send_all": (400, 430, 460)}


def a_result(policy: str, seed: int, *, days: int = 30, samples: int = 40) -> dict[str, Any]:
    """One seed's result shaped like run.py's, with numbers that differ by policy and seed."""
    draw = random.Random(f"{policy}-{seed}")
    placed = PLACED.get(policy, (300, 310, 320))[(seed - 1) % 3]
    waiting = [draw.randint(0, 40) for _ in range(days)]
    return {
        "policy": policy,
        "seed": seed,
        "days": days,
        "scenario": None,
        "metrics": {
            "referrals": 742,
            "placed": placed,
            "placed_share": round(placed / 742, 4),
            "wait_hours": {"median": 10.0 * seed, "p90": 100.0 + seed},
            "distance_km": {"median": 150.0 + seed, "p90": 300.0},
            "declines_per_placement": 1.0 + seed / 10,
            "reviews_on_time_share": None,
            "occupancy": {
                "designation": {"welfare": 0.7, "justice": 0.6 + seed / 100, "mixed": 0.65},
                "nation": {"england": 0.67, "wales": 0.7},
            },
            "unplaced": {"withdrawn_waited_too_long": 100 + seed, "still_waiting_at_end": 30},
            "waiting_mean": sum(waiting) / days,
            "waiting_peak": max(waiting),
        },
        "series": {
            "waiting": waiting,
            "occupied": [140] * days,
            "staffed": [200] * days,
            "free_welfare_beds": [4] * days,
        },
        "samples": {
            "wait_hours": [0.0] + [draw.lognormvariate(3, 1.5) for _ in range(samples - 1)],
            "distance_km": [draw.uniform(5, 400) for _ in range(samples)],
        },
    }


def some_results() -> list[dict[str, Any]]:
    """Two policies by three seeds, ranked first to show the order is the summary's own."""
    results = [a_result(policy, seed) for policy in ("ranked", "send_all") for seed in (1, 2, 3)]
    # seed 2 of ranked placed nobody: no waits, and no declines per placement
    results[1]["metrics"]["wait_hours"] = None
    results[1]["metrics"]["declines_per_placement"] = None
    # seed 3 of ranked had nobody still waiting at the end: the reason is missing, not null
    del results[2]["metrics"]["unplaced"]["still_waiting_at_end"]
    return results


HINDSIGHT: list[dict[str, Any] | None] = [
    {"seed": 1, "placed_bound": 625, "placed_found": 600, "status": "feasible", "stays": 742},
    {"seed": 2, "placed_bound": 650, "placed_found": 650, "status": "optimal", "stays": 742},
    None,
]


def a_summary(**changes: Any) -> dict[str, Any]:
    """The summary of some_results with the hindsight and calibration above."""
    arguments: dict[str, Any] = {
        "hindsight": HINDSIGHT,
        "calibration": CALIBRATION,
        "parameters": PARAMETERS,
    }
    return summarise(changes.pop("results", some_results()), **(arguments | changes))


def test_the_interval_is_the_mean_plus_or_minus_t_times_the_standard_error() -> None:
    placed = a_summary()["policies"]["ranked"]["placed"]
    half = 4.303 * 20 / math.sqrt(3)  # t(0.975, 2) times s / sqrt(n), s = 20
    assert placed == {"mean": 520.0, "low": round(520 - half, 4), "high": round(520 + half, 4)}
    assert placed["low"] == 470.3132  # 520 - 86.06 / 1.7321


@pytest.mark.parametrize("seeds", [2, 3, 5, 11, 30, 31])
def test_the_t_table_matches_students_distribution_to_three_decimals(seeds: int) -> None:
    values = [0.0, 1000.0] * (seeds // 2) + [500.0] * (seeds % 2)
    results = [a_result("ranked", seed) for seed in range(1, seeds + 1)]
    for result, value in zip(results, values, strict=True):
        result["metrics"]["placed"] = value
    placed = a_summary(results=results, hindsight=[])["policies"]["ranked"]["placed"]
    mean = sum(values) / seeds
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (seeds - 1))
    t_used = (placed["high"] - placed["mean"]) * math.sqrt(seeds) / spread
    assert t_used == pytest.approx(float(t.ppf(0.975, seeds - 1)), abs=6e-4)


def test_beyond_thirty_degrees_of_freedom_the_normal_quantile_is_used() -> None:
    results = [a_result("ranked", seed) for seed in range(1, 41)]
    for result in results:
        result["metrics"]["placed"] = 1000.0 * (result["seed"] % 2)
    placed = a_summary(results=results, hindsight=[])["policies"]["ranked"]["placed"]
    spread = math.sqrt(sum((1000.0 * (s % 2) - 500) ** 2 for s in range(1, 41)) / 39)
    assert placed["high"] == round(500 + 1.96 * spread / math.sqrt(40), 4)


def test_one_seed_has_an_interval_of_no_width() -> None:
    summary = summarise(
        [a_result("batch", 1)], hindsight=[None], calibration=[], parameters=PARAMETERS
    )
    for stats in (
        summary["policies"]["batch"]["placed"],
        summary["policies"]["batch"]["wait_hours"]["p90"],
    ):
        assert stats["low"] == stats["high"] == stats["mean"]
        assert "n" not in stats


def test_a_metric_null_in_some_seeds_is_averaged_over_the_others_and_says_how_many() -> None:
    ranked = a_summary()["policies"]["ranked"]
    assert ranked["wait_hours"]["median"]["mean"] == 20.0  # seeds 1 and 3: 10 and 30
    assert ranked["wait_hours"]["median"]["n"] == 2
    assert ranked["declines_per_placement"]["n"] == 2
    assert "n" not in ranked["placed"]
    assert "n" not in a_summary()["policies"]["send_all"]["wait_hours"]["median"]


def test_a_metric_null_in_every_seed_has_no_mean_and_no_interval() -> None:
    assert a_summary()["policies"]["ranked"]["reviews_on_time_share"] == {
        "mean": None,
        "low": None,
        "high": None,
    }


def test_an_unplaced_reason_missing_in_a_seed_counts_as_nobody() -> None:
    still_waiting = a_summary()["policies"]["ranked"]["unplaced"]["still_waiting_at_end"]
    assert still_waiting["mean"] == 20.0  # 30, 30 and 0
    assert "n" not in still_waiting


def test_nested_metrics_are_summarised_under_their_group() -> None:
    occupancy = a_summary()["policies"]["send_all"]["occupancy"]
    assert occupancy["designation"]["justice"]["mean"] == 0.62
    assert set(occupancy["nation"]) == {"england", "wales"}


def test_policies_come_in_the_order_send_all_ranked_batch_then_the_rest_alphabetically() -> None:
    results = [a_result(p, 1) for p in ("zeta", "batch", "ranked", "alpha", "send_all")]
    summary = summarise(results, hindsight=[None], calibration=[], parameters=PARAMETERS)
    assert list(summary["policies"]) == ["send_all", "ranked", "batch", "alpha", "zeta"]


def test_every_float_is_rounded_to_four_decimals() -> None:
    summary = a_summary()

    def floats(value: Any) -> list[float]:
        if isinstance(value, float):
            return [value]
        if isinstance(value, dict):
            return [f for item in value.values() for f in floats(item)]
        if isinstance(value, list):
            return [f for item in value for f in floats(item)]
        return []

    found = floats(summary)
    assert found
    assert all(f == round(f, 4) for f in found)
    assert a_summary()["policies"]["send_all"]["placed_share"]["mean"] == round(430 / 742, 4)


def test_the_hindsight_bound_is_summarised_over_the_seeds_that_have_one() -> None:
    summary = a_summary()
    assert summary["hindsight"]["placed_bound"] == {
        "mean": 637.5,
        # s = 12.5 * sqrt(2), so t(0.975, 1) * s / sqrt(2) = 12.706 * 12.5
        "low": round(637.5 - 12.706 * 12.5, 4),
        "high": round(637.5 + 12.706 * 12.5, 4),
        "n": 2,
    }
    assert summary["hindsight"]["seeds"] == HINDSIGHT
    # ranked placed 500 of 625 on seed 1 and 520 of 650 on seed 2; seed 3 has no bound
    of_bound = summary["policies"]["ranked"]["placed_of_bound"]
    assert of_bound["mean"] == 0.8
    assert of_bound["n"] == 2


def test_without_any_hindsight_bound_there_is_no_hindsight_and_no_share_of_it() -> None:
    summary = a_summary(hindsight=[None, None, None])
    assert summary["hindsight"] is None
    assert "placed_of_bound" not in summary["policies"]["ranked"]


def test_the_parameters_and_calibration_are_carried_as_given() -> None:
    summary = a_summary()
    assert summary["parameters"] == PARAMETERS
    assert summary["calibration"] == CALIBRATION
    assert "whatif" not in summary


def test_a_whatif_keeps_three_metrics_per_policy_of_each_run() -> None:
    other = a_summary()
    summary = a_summary(whatif=[{"label": "+10 beds", "summary": other}])
    (entry,) = summary["whatif"]
    assert entry["label"] == "+10 beds"
    assert list(entry["policies"]) == ["send_all", "ranked"]
    assert entry["policies"]["ranked"] == {
        "placed_share": other["policies"]["ranked"]["placed_share"],
        "wait_hours.median": other["policies"]["ranked"]["wait_hours"]["median"],
        "waiting_mean": other["policies"]["ranked"]["waiting_mean"],
    }


def test_the_summary_written_twice_is_byte_identical(tmp_path: Path) -> None:
    write_summary(tmp_path / "one.json", a_summary())
    write_summary(tmp_path / "two.json", a_summary())
    first = (tmp_path / "one.json").read_bytes()
    assert first == (tmp_path / "two.json").read_bytes()
    assert first.endswith(b"}\n")
    assert json.loads(first) == json.loads(json.dumps(a_summary()))


def plot_files(out: Path) -> set[str]:
    """The SVG files under out/plots."""
    return {f"plots/{p.name}" for p in (out / "plots").glob("*.svg")}


def test_the_report_shows_every_policy_calibration_row_and_plot(tmp_path: Path) -> None:
    results = some_results()
    page = write_report(tmp_path, a_summary(results=results), results).read_text("utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert page.count("<h1>") == 1
    assert "<title>" in page
    for policy in ("send_all", "ranked"):
        assert policy in page
    for row in CALIBRATION:
        assert str(row["figure"]) in page
        assert str(row["tolerance"]) in page
    assert "not simulated" in page
    assert "470.3" in page  # ranked's placed interval
    assert "2 of 3 seeds" in page
    assert '<tr><th scope="row">3</th><td>not computed</td>' in page  # hindsight of seed 3
    sources = re.findall(r'<img src="([^"]+)" alt="([^"]+)">', page)
    assert sorted(src for src, _ in sources) == sorted(plot_files(tmp_path))
    assert len(sources) == 4 == page.count("<img")
    assert all((tmp_path / src).is_file() and alt for src, alt in sources)
    assert "<script" not in page
    assert "http://" not in page and "https://" not in page
    assert page.count("<caption>") == page.count("<table>")
    assert page.count('<th scope="row">') > 20


def test_the_report_and_its_plots_are_the_same_on_every_run(tmp_path: Path) -> None:
    results = some_results()
    for run in ("one", "two"):
        write_report(tmp_path / run, a_summary(results=results), results)
    for name in [*plot_files(tmp_path / "one"), "report.html"]:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_a_malicious_label_is_escaped_in_the_page_and_the_plot(tmp_path: Path) -> None:
    label = "<script>alert(1)</script>"
    calibration = [{**CALIBRATION[0], "figure": label}]
    results = some_results()
    summary = a_summary(
        results=results, calibration=calibration, whatif=[{"label": label, "summary": a_summary()}]
    )
    page = write_report(tmp_path, summary, results).read_text("utf-8")
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in (tmp_path / "plots" / "whatif.svg").read_text("utf-8")


def test_the_whatif_section_appears_only_with_a_whatif(tmp_path: Path) -> None:
    results = some_results()
    whatif = [
        {"label": f"+{beds} beds", "summary": a_summary(results=results)} for beds in (0, 10, 20)
    ]
    with_whatif = write_report(tmp_path, a_summary(whatif=whatif), results).read_text("utf-8")
    assert "<h2>What if</h2>" in with_whatif
    assert 'src="plots/whatif.svg"' in with_whatif
    assert "+20 beds" in with_whatif
    # the same directory again without a what-if: no section and no stale plot left beside it
    without = write_report(tmp_path, a_summary(results=results), results).read_text("utf-8")
    assert "What if" not in without
    assert "whatif" not in without
    assert "plots/whatif.svg" not in plot_files(tmp_path)


def test_a_year_of_ten_seeds_for_three_policies_is_reported_in_a_few_seconds(
    tmp_path: Path,
) -> None:
    results = [
        a_result(policy, seed, days=365, samples=500)
        for policy in ("send_all", "ranked", "batch")
        for seed in range(1, 11)
    ]
    started = time.perf_counter()
    summary = summarise(
        results, hindsight=[None] * 10, calibration=CALIBRATION, parameters=PARAMETERS
    )
    write_summary(tmp_path / "summary.json", summary)
    write_report(tmp_path, summary, results)
    elapsed = time.perf_counter() - started
    # generous for a shared 2-core machine; about a second measured alone
    assert elapsed < 10.0
