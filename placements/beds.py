"""The bed-count invariant of a unit, checked in the domain before the database's CHECK sees it."""

from __future__ import annotations

from collections.abc import Mapping

from placements.vocabulary import FLAGS, OUT_OF_USE_REASONS


def count_errors(
    *,
    approved: int,
    staffed: int,
    occupied: int,
    reserved: int,
    reason: str | None,
    resident_flags: Mapping[str, int],
) -> dict[str, list[str]]:
    """Name every field that breaks `0 <= occupied + reserved <= staffed <= approved`."""
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if staffed < 0:
        fail("staffed_beds", "must not be negative")
    if occupied < 0:
        fail("occupied_beds", "must not be negative")
    if staffed > approved:
        fail("staffed_beds", f"{staffed} staffed beds exceed the unit's {approved} approved beds")
    if occupied >= 0 and occupied + reserved > staffed:
        fail(
            "occupied_beds",
            f"{occupied} occupied + {reserved} reserved beds exceed the {staffed} staffed beds",
        )
    if staffed < approved and not reason:
        fail(
            "out_of_use_reason",
            f"required when staffed beds ({staffed}) are fewer than approved ({approved}); "
            f"one of {', '.join(OUT_OF_USE_REASONS)}",
        )
    if reason is not None and reason not in OUT_OF_USE_REASONS:
        fail("out_of_use_reason", f"must be one of {', '.join(OUT_OF_USE_REASONS)}")
    for flag, count in resident_flags.items():
        if flag not in FLAGS:
            fail("resident_flags", f"unknown flag {flag!r}; known: {', '.join(FLAGS)}")
        elif count < 0 or count > occupied:
            fail("resident_flags", f"{flag}: {count} is not between 0 and occupied beds")
    return errors
