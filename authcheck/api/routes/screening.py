"""Screening listings, stored screenings, the review queue and decisions (marketplace and admin keys)."""

from __future__ import annotations

import time
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from authcheck.api.auth import get_authcheck, require
from authcheck.api.decisions import DecisionError, record_decision, screening_subject
from authcheck.api.schemas import DecisionBody
from authcheck.api.uploads import UploadError, check_file_count, read_upload
from authcheck.evidence import case_evidence_png
from authcheck.keys import Principal
from authcheck.results import VERDICTS, ScreeningResult
from index.catalogue import CatalogueError

router = APIRouter(tags=["screening"])
Screener = Depends(require("marketplace", "admin"))


def worst_verdict(verdicts: list[str]) -> str | None:
    """The most serious verdict by :data:`authcheck.results.VERDICTS`; unknown ones rank just above clean."""
    rank = {v: i for i, v in enumerate(VERDICTS)}
    fallback = rank.get("clean", len(VERDICTS)) - 0.5
    return min(verdicts, key=lambda v: rank.get(v, fallback)) if verdicts else None


def screening_json(row: dict, evidence: bool = False) -> dict:
    """A stored screening; keypoint pairs and outlines only with ``evidence``."""
    if evidence:
        return row
    out = dict(row)
    result = dict(out.get("result") or {})
    result["matches"] = [
        {k: v for k, v in m.items() if k not in ("pairs", "outline")} for m in result.get("matches") or []
    ]
    out["result"] = result
    return out


def _brand_exists(request: Request, brand: str) -> None:
    try:
        get_authcheck(request).catalogue.get_brand(brand)
    except CatalogueError:
        raise HTTPException(404, f"no brand {brand!r}") from None


@router.post("/screen")
async def screen(
    request: Request,
    response: Response,
    image: Annotated[
        list[UploadFile], File(description="the listing's image(s); repeat the field for several")
    ],
    seller_id: Annotated[str | None, Form(max_length=200)] = None,
    listing_id: Annotated[str | None, Form(max_length=200)] = None,
    brand: Annotated[str | None, Form(description="screen only against this brand's references")] = None,
    record: Annotated[bool, Form(description="queue flagged results for review")] = True,
    evidence: Annotated[bool, Form(description="include outlines and keypoint pairs")] = False,
    ocr: Annotated[
        bool | None,
        Form(
            description="read the text for brands' wordmarks (about 1 s per image); default: server setting"
        ),
    ] = None,
    principal: Principal = Screener,
) -> dict:
    """Screen a listing's images for copies and logo misuse.

    One image: the verdict object, exactly as ``authcheck screen --json`` prints it (an
    unreadable or refused image is a 4xx). Several images: ``{"verdict": most serious,
    "results": [...]}`` with per-image errors in place.
    """
    core = get_authcheck(request)
    limits = request.app.state.config.uploads
    check_file_count(image, limits)
    items: list[tuple[str, bytes] | UploadError] = []
    for upload in image:
        try:
            items.append(await read_upload(upload, limits))
        except UploadError as exc:
            items.append(exc)
    single = len(items) == 1
    if single and isinstance(items[0], UploadError):
        raise HTTPException(items[0].status, items[0].message)
    if brand:
        await anyio.to_thread.run_sync(_brand_exists, request, brand)
    good = [it for it in items if not isinstance(it, UploadError)]

    spent: dict[str, float] = {}

    def work() -> list[ScreeningResult]:
        started = time.perf_counter()
        out = list(
            core.screen(good, seller=seller_id, listing_id=listing_id, record=record, brand=brand, ocr=ocr)
        )
        spent["pipeline"] = time.perf_counter() - started
        return out

    queued = time.perf_counter()
    results = iter(await anyio.to_thread.run_sync(work, limiter=request.app.state.screen_limiter))
    waited = time.perf_counter() - queued - spent["pipeline"]
    # Where the time went, for clients and load tests (https://www.w3.org/TR/server-timing/).
    response.headers["Server-Timing"] = (
        f"pipeline;dur={spent['pipeline'] * 1e3:.1f}, wait;dur={waited * 1e3:.1f}"
    )
    out: list[dict] = []
    verdicts: list[str] = []
    for item in items:
        if isinstance(item, UploadError):
            out.append(item.to_dict())
            continue
        result = next(results)
        if single and result.error:
            raise HTTPException(422, result.error)
        out.append(result.to_dict(with_pairs=evidence))
        if not result.error:
            verdicts.append(result.verdict)
    if single:
        return out[0]
    return {"listing_id": listing_id, "seller": seller_id, "verdict": worst_verdict(verdicts), "results": out}


@router.get("/screenings")
def list_screenings(
    request: Request,
    status: str | None = Query(None, description="open, confirmed, dismissed, authorised, none"),
    brand: str | None = None,
    verdict: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    principal: Principal = Screener,
) -> dict:
    """Stored screenings, newest first."""
    rows = get_authcheck(request).catalogue.list_screenings(
        status=status, brand=brand, verdict=verdict, limit=limit, offset=offset
    )
    return {"screenings": [screening_json(r) for r in rows]}


@router.get("/queue")
def queue(
    request: Request,
    brand: str | None = None,
    verdict: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    principal: Principal = Screener,
) -> dict:
    """The review queue: flagged screenings still open, newest first."""
    rows = get_authcheck(request).catalogue.list_screenings(
        status="open", brand=brand, verdict=verdict, limit=limit, offset=offset
    )
    return {"screenings": [screening_json(r) for r in rows]}


def _screening(request: Request, screening_id: int) -> dict:
    row = get_authcheck(request).catalogue.get_screening(screening_id)
    if row is None:
        raise HTTPException(404, f"no screening {screening_id}")
    return row


@router.get("/screenings/{screening_id}")
def get_screening(
    screening_id: int, request: Request, evidence: bool = False, principal: Principal = Screener
) -> dict:
    """One screening with its reviews and audit log."""
    row = screening_json(_screening(request, screening_id), evidence)
    row["audit"] = get_authcheck(request).catalogue.audit_log(screening_subject(screening_id))
    return row


@router.get("/screenings/{screening_id}/evidence.png", response_class=Response)
def evidence_png(
    screening_id: int, request: Request, reference_id: int | None = None, principal: Principal = Screener
) -> Response:
    """The listing beside a matched reference (the top match by default), matched region drawn."""
    core = get_authcheck(request)
    try:
        png = case_evidence_png(core.home, core.catalogue, _screening(request, screening_id), reference_id)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(png, media_type="image/png")


@router.get("/screenings/{screening_id}/export.html", response_class=HTMLResponse)
def export(screening_id: int, request: Request, principal: Principal = Screener) -> HTMLResponse:
    """The case as one self-contained HTML evidence file (images inlined), e.g. for a takedown notice."""
    from authcheck.web.export import export_response

    return export_response(get_authcheck(request), _screening(request, screening_id), principal.actor)


@router.post("/screenings/{screening_id}/decision")
def decide(screening_id: int, body: DecisionBody, request: Request, principal: Principal = Screener) -> dict:
    """Record a reviewer's decision: confirm, dismiss, or authorise the seller for the matched brand(s)."""
    try:
        row = record_decision(
            get_authcheck(request), screening_id, body.decision, principal.actor, body.note, body.brands
        )
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except DecisionError as exc:
        raise HTTPException(409, str(exc)) from None
    return screening_json(row)
