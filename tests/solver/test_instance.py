"""The instance format and the command line: good input round-trips, bad input exits 2 clearly."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from solver import load_problem, problem_to_dict
from solver.__main__ import main
from solver.generate import generate

INSTANCE: dict[str, Any] = {
    "format": "placements.solver/1",
    "incompatible_flags": [["cse_victim", "sexual_harm_risk"]],
    "units": [
        {
            "id": "clare-lodge/1",
            "provider_id": "clare-lodge",
            "lat": 52.64,
            "lon": -0.296,
            "free_beds": 2,
            "sexes": ["F"],
            "min_age": 10,
            "max_age": 17,
            "designation": "welfare",
            "specialisms": ["cse", "trauma"],
            "resident_flags": [["cse_victim"], []],
        }
    ],
    "children": [
        {
            "id": "REQ-00001",
            "age": 15,
            "sex": "F",
            "legal_basis": "welfare",
            "lat": 51.474,
            "lon": -0.081,
            "needs": ["cse"],
            "flags": ["cse_victim"],
            "days_waiting": 3,
            "max_distance_km": 400,
            "exclusion_zones": [{"lat": 51.47, "lon": -0.08, "radius_km": 50}],
            "declined_by": ["lansdowne"],
            "acceptance": {"clare-lodge": 0.7},
        }
    ],
    "weights": {},
}


def broken(change: str) -> dict[str, Any]:
    """The example instance with one thing wrong."""
    data = copy.deepcopy(INSTANCE)
    unit, child = data["units"][0], data["children"][0]
    if change == "missing field":
        del child["sex"]
    elif change == "unknown designation":
        unit["designation"] = "secure"
    elif change == "unknown sex":
        child["sex"] = "X"
    elif change == "negative beds":
        unit["free_beds"] = -1
    elif change == "duplicate ids":
        data["units"].append(copy.deepcopy(unit))
    elif change == "latitude out of range":
        child["lat"] = 91
    elif change == "flag pair naming itself":
        data["incompatible_flags"] = [["cse_victim", "cse_victim"]]
    return data


BAD = [
    ("missing field", "children[0].sex"),
    ("unknown designation", "units[0].designation"),
    ("unknown sex", "children[0].sex"),
    ("negative beds", "units[0].free_beds"),
    ("duplicate ids", "units[1].id"),
    ("latitude out of range", "children[0].lat"),
    ("flag pair naming itself", "incompatible_flags[0]"),
]


def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run `python -m solver` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "solver", *args], input=stdin, capture_output=True, text=True
    )


@pytest.mark.parametrize(("change", "field"), BAD)
def test_bad_input_exits_2_with_one_line_naming_the_field(
    change: str, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(broken(change)))
    assert main(["solve", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and field in err and "Traceback" not in err


def test_bad_json_exits_2_from_a_real_process() -> None:
    result = run(["solve", "-"], stdin="{not json")
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert "invalid JSON" in result.stderr and "Traceback" not in result.stderr


def test_a_negative_bed_count_exits_2_from_a_real_process() -> None:
    result = run(["rank", "-", "--child", "REQ-00001"], stdin=json.dumps(broken("negative beds")))
    assert result.returncode == 2
    assert "units[0].free_beds" in result.stderr and result.stderr.count("\n") == 1


def test_a_missing_file_and_an_unknown_child_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["solve", str(tmp_path / "nowhere.json")]) == 2
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(INSTANCE))
    assert main(["rank", str(path), "--child", "REQ-99999"]) == 2
    assert main(["solve"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "--child" in err


def test_solve_prints_the_solution_shape(tmp_path: Path) -> None:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(generate(12, 8, seed=3)))
    result = run(["solve", str(path), "--time-limit", "5", "--workers", "1"])
    assert result.returncode == 0, result.stderr
    solution = json.loads(result.stdout)
    assert list(solution) == [
        "status",
        "placed",
        "placed_bound",
        "score",
        "score_bound",
        "assignments",
        "unplaced",
        "solve_seconds",
    ]
    assert solution["status"] in ("optimal", "feasible")
    assert solution["placed"] == len(solution["assignments"]) <= solution["placed_bound"]
    assert all(list(a) == ["child_id", "unit_id", "score"] for a in solution["assignments"])
    assert all(list(u) == ["child_id", "reasons"] for u in solution["unplaced"])


def test_rank_prints_every_unit_once_with_breakdowns_that_sum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "instance.json"
    data = generate(5, 30, seed=4)
    path.write_text(json.dumps(data))
    assert main(["rank", str(path), "--child", "REQ-00002"]) == 0
    ranking = json.loads(capsys.readouterr().out)
    assert list(ranking) == ["child_id", "options", "excluded"]
    units = [o["unit_id"] for o in ranking["options"]] + [e["unit_id"] for e in ranking["excluded"]]
    assert sorted(units) == sorted(unit["id"] for unit in data["units"])
    for option in ranking["options"]:
        assert sum(option["breakdown"].values()) == option["score"]
    assert all(e["reasons"] for e in ranking["excluded"])


def test_generate_prints_an_instance_that_loads_and_round_trips(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["generate", "--children", "20", "--units", "15", "--seed", "7"]) == 0
    data = json.loads(capsys.readouterr().out)
    problem = load_problem(data)
    assert len(problem.children) == 20 and len(problem.units) == 15
    assert load_problem(problem_to_dict(problem)) == problem
    assert load_problem(INSTANCE).children[0].acceptance == {"clare-lodge": 0.7}


def test_bench_exact_prints_proven_optima_below_both_bounds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The real table solves instances of 200-500 children for minutes; two of 30 show its shape.
    import solver.bench

    monkeypatch.setattr(solver.bench, "EXACT_CHILDREN", (30,))
    monkeypatch.setattr(solver.bench, "EXACT_SEEDS", (1, 2))
    assert main(["bench", "--exact"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
            for line in lines[2:4]]  # fmt: skip
    assert [row["seed"] for row in rows] == ["1", "2"]
    for row in rows:
        assert row["status"] == "optimal"
        assert float(row["below LP"].rstrip("%")) >= 0
        assert row["below flow"].endswith(("%", "placed fewer"))
    assert lines[4].startswith("machine: ")
