"""Placement matching for secure children's homes: a pure optimiser, no web and no database."""

from solver.instance import (
    InstanceError,
    load_problem,
    problem_to_dict,
    ranking_to_dict,
    solution_to_dict,
)
from solver.match import match
from solver.model import (
    Assignment,
    Child,
    Excluded,
    ExclusionZone,
    Option,
    Problem,
    Ranking,
    Solution,
    Unit,
    Unplaced,
    Weights,
)
from solver.rank import has_option, rank, without_option
from solver.rules import eligibility

__all__ = [
    "Assignment",
    "Child",
    "Excluded",
    "ExclusionZone",
    "InstanceError",
    "Option",
    "Problem",
    "Ranking",
    "Solution",
    "Unit",
    "Unplaced",
    "Weights",
    "eligibility",
    "has_option",
    "load_problem",
    "match",
    "problem_to_dict",
    "rank",
    "ranking_to_dict",
    "solution_to_dict",
    "without_option",
]
