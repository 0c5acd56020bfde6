"""A brand's reference images: list, register (multipart upload), fetch, remove.

Registration takes the cross-process write lock and runs in a worker thread through its
own limiter, so it never holds up screening requests.
"""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from authcheck.api.auth import brand_access, get_authcheck
from authcheck.api.schemas import reference_json
from authcheck.api.uploads import UploadError, check_file_count, read_upload
from index.catalogue import Brand, Reference

router = APIRouter(prefix="/brands/{brand}/references", tags=["references"])
OwnBrand = Depends(brand_access)
Kind = Literal["catalogue", "logo"]


def _own_reference(request: Request, brand: Brand, ref_id: int) -> Reference:
    """The reference if it belongs to ``brand``; 404 otherwise (whoever's it is)."""
    ref = get_authcheck(request).catalogue.get_reference(ref_id)
    if ref is None or ref.brand != brand.name:
        raise HTTPException(404, f"brand {brand.name!r} has no reference {ref_id}")
    return ref


@router.get("")
def list_references(
    request: Request,
    brand: Brand = OwnBrand,
    kind: Kind | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict:
    """The brand's references, newest first."""
    catalogue = get_authcheck(request).catalogue
    refs = catalogue.list_references(brand=brand.name, kind=kind, limit=limit, offset=offset)
    return {"brand": brand.name, "references": [reference_json(r) for r in refs]}


@router.post("", status_code=201)
async def register(
    request: Request,
    image: Annotated[list[UploadFile], File(description="one or more image files (repeat the field)")],
    kind: Annotated[Kind, Form()] = "catalogue",
    brand: Brand = OwnBrand,
) -> JSONResponse:
    """Register catalogue shots or logos.

    Already-registered bytes are skipped; unreadable or refused files are listed in ``failed``.
    """
    core = get_authcheck(request)
    limits = request.app.state.config.uploads
    check_file_count(image, limits)
    sources: list[tuple[str, bytes]] = []
    refused: list[UploadError] = []
    for upload in image:
        try:
            sources.append(await read_upload(upload, limits))
        except UploadError as exc:
            refused.append(exc)
    if len(image) == 1 and refused:
        raise HTTPException(refused[0].status, refused[0].message)
    actor = request.state.principal.actor

    def work() -> dict:
        report = core.register([], brand.name, kind, sources=sources, actor=actor)
        report.failed.extend((e.name, e.message) for e in refused)
        return report.to_dict()

    out = await anyio.to_thread.run_sync(work, limiter=request.app.state.register_limiter)
    if out["registered"]:
        return JSONResponse(out, status_code=201)
    if out["already_registered"]:
        return JSONResponse(out, status_code=200)
    message = "; ".join(f["error"] for f in out["failed"][:3])
    return JSONResponse({"error": f"nothing registered: {message}", **out}, status_code=422)


@router.get("/{ref_id}")
def get_reference(ref_id: int, request: Request, brand: Brand = OwnBrand) -> dict:
    """One of the brand's references."""
    return reference_json(_own_reference(request, brand, ref_id))


@router.get("/{ref_id}/image", response_class=FileResponse)
def reference_image(ref_id: int, request: Request, brand: Brand = OwnBrand) -> FileResponse:
    """The stored copy of a reference (downscaled to at most 1024 px)."""
    ref = _own_reference(request, brand, ref_id)
    path = get_authcheck(request).refs.path(ref.stored_path)
    if not path.is_file():
        raise HTTPException(404, f"the stored copy of reference {ref_id} is missing")
    return FileResponse(path)


@router.delete("/{ref_id}")
async def remove_reference(ref_id: int, request: Request, brand: Brand = OwnBrand) -> dict:
    """Remove a reference; later screenings no longer match it."""
    core = get_authcheck(request)
    actor = request.state.principal.actor
    removed = await anyio.to_thread.run_sync(
        lambda: core.remove([ref_id], brand=brand.name, actor=actor),
        limiter=request.app.state.register_limiter,
    )
    if not removed:
        raise HTTPException(404, f"brand {brand.name!r} has no reference {ref_id}")
    return {"removed": reference_json(removed[0])}
