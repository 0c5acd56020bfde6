"""Pages of the reviewer web UI under ``/ui``: login, the queue, a case, decisions and evidence export.

Reviewers log in with a marketplace or admin API key; see :mod:`authcheck.web.session`.
Decisions are POST forms; besides the SameSite=Strict cookie, POSTs whose Origin is
another site are refused.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlparse

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from authcheck.api.auth import get_authcheck
from authcheck.api.decisions import DECISION_LABELS, DecisionError, record_decision, screening_subject
from authcheck.evidence import (
    case_evidence,
    case_evidence_png,
    match_at,
    match_caption,
    reference_ids,
    to_png,
    top_matches,
)
from authcheck.keys import Principal, authenticate, hash_key, principal_for_hash
from authcheck.results import FLAGGED, VERDICTS
from authcheck.web.export import export_response
from authcheck.web.session import COOKIE, make_token, read_token
from authcheck.web.templating import templates

router = APIRouter(prefix="/ui", include_in_schema=False)
REVIEW_ROLES = ("marketplace", "admin")
STATUSES = ("open", "confirmed", "dismissed", "authorised", "all")
PAGE = 50


def reviewer(request: Request) -> Principal | None:
    """The logged-in reviewer, or None (no, bad or expired session; revoked key; wrong role)."""
    key_hash = read_token(request.app.state.session_secret, request.cookies.get(COOKIE))
    if key_hash is None:
        return None
    principal = principal_for_hash(get_authcheck(request).catalogue, key_hash)
    return principal if principal is not None and principal.role in REVIEW_ROLES else None


def _require_reviewer(request: Request) -> Principal:
    """For images and POSTs: 401 rather than a redirect."""
    principal = reviewer(request)
    if principal is None:
        raise HTTPException(401, "log in at /ui/login first")
    return principal


def _check_origin(request: Request) -> None:
    """Refuse cross-site form posts (defence in depth beside the SameSite cookie)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlparse(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "cross-site request refused")


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)


def _safe_next(target: str | None) -> str:
    """Only local UI paths are valid redirect targets after login."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


def _screening_or_404(request: Request, screening_id: int) -> dict:
    row = get_authcheck(request).catalogue.get_screening(screening_id)
    if row is None:
        raise HTTPException(404, f"no screening {screening_id}")
    return row


# -- login -------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The login form."""
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request, key: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/ui/"
) -> Response:
    """Check the key; on success set the session cookie and go to the queue (or ``next``)."""
    _check_origin(request)
    core = get_authcheck(request)
    principal = authenticate(core.catalogue, key.strip())
    error, status = None, 200
    if principal is None:
        error, status = "That key is not valid (or has been revoked).", 401
    elif principal.role not in REVIEW_ROLES:
        error = f"A {principal.role} key cannot open the review queue; use a marketplace or admin key."
        status = 403
    if error:
        context = {"next": _safe_next(next), "error": error}
        return templates.TemplateResponse(request, "login.html", context, status_code=status)
    assert principal is not None
    hours = request.app.state.config.session_hours
    token = make_token(request.app.state.session_secret, hash_key(key.strip()), hours)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(hours * 3600),
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    core.catalogue.audit(principal.actor, "ui.login", f"key:{principal.key_id}", {})
    return response


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    """End the session."""
    _check_origin(request)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


# -- queue -------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def queue(
    request: Request, brand: str = "", verdict: str = "", status: str = "open", page: int = 0
) -> Response:
    """Flagged screenings, newest first, filtered by brand, verdict and review status."""
    principal = reviewer(request)
    if principal is None:
        return _to_login(request)
    catalogue = get_authcheck(request).catalogue
    status = status if status in STATUSES else "open"
    page = max(0, page)
    rows = catalogue.list_screenings(
        status=None if status == "all" else status,
        brand=brand or None,
        verdict=verdict or None,
        limit=PAGE + 1,
        offset=page * PAGE,
    )
    if status == "all":
        rows = [r for r in rows if r["status"] != "none"]  # clean results are never queued
    verdicts = list(FLAGGED) + [v for v in VERDICTS if v not in FLAGGED and v != "clean"]
    context = {
        "principal": principal,
        "rows": rows[:PAGE],
        "more": len(rows) > PAGE,
        "page": page,
        "brands": [b.name for b in catalogue.list_brands()],
        "verdicts": verdicts,
        "statuses": STATUSES,
        "filters": {"brand": brand, "verdict": verdict, "status": status},
    }
    return templates.TemplateResponse(request, "queue.html", context)


# -- a case ------------------------------------------------------------------------------
@router.get("/cases/{screening_id}", response_class=HTMLResponse)
def case(request: Request, screening_id: int, error: str | None = None) -> Response:
    """One flagged listing: evidence per top match, scores, decisions and the audit log."""
    principal = reviewer(request)
    if principal is None:
        return _to_login(request)
    core = get_authcheck(request)
    row = _screening_or_404(request, screening_id)
    shown = top_matches(row, limit=3)
    matches = row["result"].get("matches", [])
    refs = core.catalogue.get_references(reference_ids(matches))
    context = {
        "principal": principal,
        "s": row,
        "shown": [(m, match_caption(m), _evidence_url(screening_id, m, matches)) for m in shown],
        "matches": row["result"].get("matches", []),
        "refs": refs,
        "audit": core.catalogue.audit_log(screening_subject(screening_id)),
        "decisions": DECISION_LABELS,
        "error": error,
    }
    return templates.TemplateResponse(request, "case.html", context)


def _evidence_url(screening_id: int, match: dict, matches: list[dict]) -> str:
    """Where a match's evidence image is served: by reference id, or by position for a wordmark."""
    if match.get("reference_id") is not None:
        return f"/ui/cases/{screening_id}/evidence/{match['reference_id']}.png"
    return f"/ui/cases/{screening_id}/evidence/match-{matches.index(match)}.png"


@router.get("/cases/{screening_id}/evidence/match-{index}.png")
def evidence_by_position(request: Request, screening_id: int, index: int) -> Response:
    """Evidence PNG of the case's ``index``-th match (wordmark matches have no reference)."""
    _require_reviewer(request)
    core = get_authcheck(request)
    row = _screening_or_404(request, screening_id)
    match = match_at(row, index)
    if match is None:
        raise HTTPException(404, f"screening {screening_id} has no match {index}")
    png = to_png(case_evidence(core.home, core.catalogue, row, match))
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/cases/{screening_id}/evidence/{reference_id}.png")
def evidence(request: Request, screening_id: int, reference_id: int) -> Response:
    """Evidence PNG: the listing beside one matched reference."""
    _require_reviewer(request)
    core = get_authcheck(request)
    try:
        row = _screening_or_404(request, screening_id)
        png = case_evidence_png(core.home, core.catalogue, row, reference_id)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/cases/{screening_id}/listing")
def listing_image(request: Request, screening_id: int) -> FileResponse:
    """The stored copy of the flagged listing image."""
    _require_reviewer(request)
    core = get_authcheck(request)
    rel = _screening_or_404(request, screening_id).get("listing_path")
    path = (core.home / rel).resolve() if rel else None
    if path is None or not path.is_relative_to(core.home) or not path.is_file():
        raise HTTPException(404, "no stored copy of this listing")
    return FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


@router.post("/cases/{screening_id}/decision")
def decide(
    request: Request,
    screening_id: int,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=5000)] = "",
    brand: Annotated[list[str] | None, Form()] = None,
) -> RedirectResponse:
    """Record a decision from the case page, then show the case again."""
    _check_origin(request)
    principal = _require_reviewer(request)
    _screening_or_404(request, screening_id)
    target = f"/ui/cases/{screening_id}"
    try:
        core = get_authcheck(request)
        record_decision(core, screening_id, decision, principal.actor, note.strip(), brand or None)
    except DecisionError as exc:
        return RedirectResponse(f"{target}?error={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"{target}#audit", status_code=303)


@router.get("/cases/{screening_id}/export.html")
def export(request: Request, screening_id: int) -> Response:
    """Download the case as one self-contained HTML evidence file."""
    principal = reviewer(request)
    if principal is None:
        return _to_login(request)
    row = _screening_or_404(request, screening_id)
    return export_response(get_authcheck(request), row, principal.actor)
