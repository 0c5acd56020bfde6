"""A case as one self-contained HTML evidence file: styles and images inlined, nothing fetched.

Fit to attach to a takedown notice: the listing (with the SHA-256 of the stored copy), each
top match's evidence image and scores, the reviews and the audit trail.
"""

from __future__ import annotations

import base64
import hashlib
import time

from fastapi.responses import HTMLResponse

from authcheck.api.decisions import screening_subject
from authcheck.app import Authcheck
from authcheck.evidence import case_evidence, match_caption, reference_ids, to_png, top_matches
from authcheck.web import STATIC_DIR
from authcheck.web.templating import templates


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def export_html(core: Authcheck, screening: dict, exported_by: str) -> str:
    """Render the evidence file of one stored screening."""
    listing = None
    rel = screening.get("listing_path")
    path = (core.home / rel).resolve() if rel else None
    if path is not None and path.is_relative_to(core.home) and path.is_file():
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        listing = {"uri": _data_uri(data, "image/jpeg"), "sha256": sha, "bytes": len(data)}
    matches = screening["result"].get("matches", [])
    refs = core.catalogue.get_references(reference_ids(matches))
    evidence = []
    for match in top_matches(screening, limit=3):
        png = to_png(case_evidence(core.home, core.catalogue, screening, match))
        evidence.append({"match": match, "caption": match_caption(match), "uri": _data_uri(png, "image/png")})
    context = {
        "s": screening,
        "listing": listing,
        "evidence": evidence,
        "matches": matches,
        "refs": refs,
        "audit": core.catalogue.audit_log(screening_subject(screening["id"])),
        "exported_by": exported_by,
        "exported_at": time.time(),
        "css": (STATIC_DIR / "style.css").read_text(),
    }
    return templates.env.get_template("export.html").render(context)


def export_response(core: Authcheck, screening: dict, actor: str) -> HTMLResponse:
    """The evidence file as a download; the export itself is audited."""
    html = export_html(core, screening, actor)
    core.catalogue.audit(actor, "case.export", screening_subject(screening["id"]), {"bytes": len(html)})
    name = f"authcheck-case-{screening['id']}.html"
    return HTMLResponse(html, headers={"Content-Disposition": f'attachment; filename="{name}"'})
