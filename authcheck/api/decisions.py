"""Reviewer decisions on flagged screenings, shared by the REST API and the web UI.

Every decision is stored as a review (reviewer, time, note) and as an audit record on
``screening:<id>``; "seller is authorised" also adds the listing's seller to the brands'
authorised sellers, so the next screening of that seller's listings is not flagged.
"""

from __future__ import annotations

from collections.abc import Iterable

from authcheck.app import Authcheck

# decision -> the screening's status afterwards
DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed", "authorise": "authorised"}
DECISION_LABELS = {
    "confirm": "Confirm infringement",
    "dismiss": "Dismiss (false positive)",
    "authorise": "Seller is authorised",
}


class DecisionError(ValueError):
    """A decision that cannot be recorded (bad decision, no seller to authorise, unrelated brand)."""


def screening_subject(screening_id: int) -> str:
    """The audit subject of a screening."""
    return f"screening:{screening_id}"


def record_decision(
    app: Authcheck,
    screening_id: int,
    decision: str,
    reviewer: str,
    note: str = "",
    brands: Iterable[str] | None = None,
) -> dict:
    """Record a decision; returns the updated screening. Raises LookupError for an unknown screening."""
    if decision not in DECISIONS:
        raise DecisionError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    screening = app.catalogue.get_screening(screening_id)
    if screening is None:
        raise LookupError(f"no screening {screening_id}")
    detail: dict = {"decision": decision, "note": note}
    if decision == "authorise":
        seller = screening["seller_id"]
        if not seller:
            raise DecisionError(
                "this listing was screened without a seller id: there is no seller to authorise"
            )
        targets = sorted(set(brands)) if brands else list(screening["brands"])
        unrelated = [b for b in targets if b not in screening["brands"]]
        if unrelated:
            raise DecisionError(f"the screening did not match brand(s) {', '.join(unrelated)}")
        if not targets:
            raise DecisionError("the screening matched no brand to authorise the seller for")
        for brand in targets:
            app.authorise(brand, [seller], actor=reviewer)
        detail.update(seller=seller, brands=targets)
    status = DECISIONS[decision]
    detail["review_id"] = app.catalogue.add_review(screening_id, decision, reviewer, note, status)
    app.catalogue.audit(reviewer, f"review.{decision}", screening_subject(screening_id), detail)
    updated = app.catalogue.get_screening(screening_id)
    assert updated is not None
    return updated
