"""What the logo detector derives from each registered logo, kept on disk for the next process.

Deriving a logo's silhouette, coarse templates, keypoints and contour from its stored copy
takes about 30 ms, and training the inverted file of all logos' keypoints about 1 s for 40
logos (about 10 s for 1,000). Every CLI run and every server start paid both before it could
screen one listing. Now:

* each logo's derived data is a record beside its stored copy (``<sha>.logo``: a JSON header
  naming its arrays, then their bytes), read back in about 0.1 ms; a missing, damaged or
  outdated record (see :data:`RECIPE`) is derived again and rewritten;
* the keypoint index, once trained and filled, and the template index's basis (an SVD of all
  templates: 1 s for 1,000 logos) are written under the home's ``indexes/``, named by a
  fingerprint of what they were made from, and read back while the logos are the same. Older
  ones are removed when a new one is written.
"""

from __future__ import annotations

import hashlib
import json
import struct
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from authcheck.refstore import ReferenceStore
from index.logo_index import LogoTemplateIndex
from index.logo_keypoint_index import BUILD as KEYPOINT_BUILD
from index.logo_keypoint_index import IVF_FROM, LogoKeypointIndex
from index.vector_index import atomic_write_bytes
from vision import logo_keypoints as lk
from vision.imageio import LoadedImage
from vision.logo_features import (
    CANON_PAD,
    CANON_SIDE,
    INNER,
    ROTATIONS,
    WINDOW,
    CoarseTemplates,
    LogoShape,
    coarse_templates,
    contour_points,
    logo_shape,
)
from vision.logo_keypoints import logo_keypoints

# Everything a record depends on besides the logo's pixels: a record made otherwise is derived again.
RECIPE = (
    f"logo-record-1 canon={CANON_SIDE},{CANON_PAD} window={WINDOW},{INNER} rotations={ROTATIONS} "
    f"keypoints={lk.RENDER_SIDES},{lk.BACKGROUNDS},{lk.RENDER_MARGIN},{lk.RENDER_BORDER},{lk.LOGO_NFEATURES}"
)
_KEYPOINT_INDEX = ("logo-keypoints-", ".faissb")  # file name around the fingerprint
_TEMPLATE_BASIS = ("logo-templates-", ".basis")
KEYPOINT_INDEX_GLOB = "*".join(_KEYPOINT_INDEX)
TEMPLATE_BASIS_GLOB = "*".join(_TEMPLATE_BASIS)
BASIS_FROM = 1_000  # templates (5 per logo) from which the template basis is kept on disk
_MAGIC = b"ACLOGO1\0"
_HEADER = struct.Struct("<8sI")  # magic, JSON header length


@dataclass
class DerivedLogo:
    """What one logo reference gives the detector."""

    shape: LogoShape
    templates: CoarseTemplates
    points: np.ndarray  # (n, 2) float32 keypoints, canonical
    descriptors: np.ndarray  # (n, 32) uint8
    to_original: float  # original logo px per stored-copy px
    contour: tuple[np.ndarray, np.ndarray]  # silhouette contour points and inward normals (canonical)
    stored_width: int  # the stored copy's width, px


def derive_logo(image: LoadedImage, width: int) -> DerivedLogo | None:
    """Shape, templates, keypoints and contour of a logo's stored copy (``width``: the original's, px);
    None when it has no usable ink."""
    shape = logo_shape(image.rgb, image.alpha)
    if shape is None:
        return None
    points, descriptors = logo_keypoints(image.rgb, image.alpha, shape)
    return DerivedLogo(
        shape,
        coarse_templates(shape),
        points,
        descriptors,
        width / image.rgb.shape[1],
        contour_points(shape.mask),
        image.rgb.shape[1],
    )


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """Named arrays as one record: magic, a JSON header (recipe, names, dtypes, shapes), their bytes."""
    header, chunks, offset = [], [], 0
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        header.append([name, arr.dtype.str, list(arr.shape), offset, arr.nbytes])
        chunks.append(arr.tobytes())
        offset += arr.nbytes
    text = json.dumps({"recipe": RECIPE, "arrays": header}).encode()
    return _HEADER.pack(_MAGIC, len(text)) + text + b"".join(chunks)


def unpack_arrays(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of a :func:`pack_arrays` record (copies). ValueError when it is damaged or of another recipe."""
    try:
        magic, size = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a logo record")
        head = json.loads(data[_HEADER.size : _HEADER.size + size])
        if head["recipe"] != RECIPE:
            raise ValueError("logo record of another recipe")
        start = _HEADER.size + size
        out = {}
        for name, dtype, shape, offset, nbytes in head["arrays"]:
            if start + offset + nbytes > len(data):
                raise ValueError("truncated logo record")
            count = int(np.prod(shape))
            if count == 0:
                out[name] = np.zeros(shape, np.dtype(dtype))
                continue
            arr = np.frombuffer(data, np.dtype(dtype), count=count, offset=start + offset)
            out[name] = arr.reshape(shape).copy()
        return out
    except (struct.error, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"damaged logo record: {exc}") from exc


def record_bytes(logo: DerivedLogo | None) -> bytes:
    """A logo's derived data as a record (``None``: a logo without usable ink, recorded as such)."""
    if logo is None:
        return pack_arrays({})
    t = logo.templates
    return pack_arrays(
        {
            "mask": logo.shape.mask,
            "frame": np.array([logo.shape.pad, logo.shape.scale, *logo.shape.origin, logo.stored_width]),
            "vectors": t.vectors,
            "rects": np.asarray(t.rects, np.int64).reshape(-1, 4),
            "rotations": np.asarray(t.rotations, np.float64),
            "to_window": np.asarray(t.to_window, np.float64).reshape(-1, 2, 3),
            "points": logo.points,
            "descriptors": logo.descriptors,
            "contour": logo.contour[0],
            "normals": logo.contour[1],
        }
    )


def logo_from_record(data: bytes, width: int) -> DerivedLogo | None:
    """The logo a record holds (None: no usable ink), for an original ``width`` px wide.

    ValueError when the record is damaged or of another recipe.
    """
    z = unpack_arrays(data)
    if not z:
        return None
    try:
        pad, scale, ox, oy, stored_width = (float(v) for v in z["frame"])
        templates = CoarseTemplates(
            z["vectors"],
            [tuple(int(v) for v in r) for r in z["rects"]],
            [float(a) for a in z["rotations"]],
            list(z["to_window"]),
        )
        return DerivedLogo(
            LogoShape(mask=z["mask"], pad=int(pad), scale=scale, origin=(int(ox), int(oy))),
            templates,
            z["points"],
            z["descriptors"],
            width / stored_width,
            (z["contour"], z["normals"]),
            int(stored_width),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"damaged logo record: {exc}") from exc


def load_or_derive(refs: ReferenceStore, stored_path: str, width: int) -> DerivedLogo | None:
    """A logo's derived data (``width``: its original's, px): its record beside the stored copy,
    else derived (and recorded)."""
    record = refs.beside(stored_path, ".logo")
    with suppress(OSError, ValueError):  # missing or damaged: derived again below
        return logo_from_record(record.read_bytes(), width)
    logo = derive_logo(refs.load(stored_path), width)
    with suppress(OSError):  # a read-only home still screens, from memory
        atomic_write_bytes(record, record_bytes(logo))
    return logo


def keypoint_index(
    directory: Path | None, descriptors: np.ndarray, owner: np.ndarray, points: np.ndarray
) -> LogoKeypointIndex:
    """The keypoint index of all logos: read from ``directory`` when one of these very descriptors
    was written there, else built (and written, replacing older ones).

    Small sets (an exact index, built in milliseconds) and ``directory=None`` are always built.
    """
    if directory is None or len(descriptors) < IVF_FROM:
        return LogoKeypointIndex(descriptors, owner, points)
    path = _fingerprinted(directory, _KEYPOINT_INDEX, KEYPOINT_BUILD, descriptors)
    with suppress(OSError, ValueError, RuntimeError):  # missing, damaged or removed meanwhile: built below
        return LogoKeypointIndex.from_bytes(path.read_bytes(), owner, points)
    index = LogoKeypointIndex(descriptors, owner, points)
    _replace(path, index.to_bytes(), KEYPOINT_INDEX_GLOB)
    return index


def template_index(
    directory: Path | None, templates: np.ndarray, support: np.ndarray, dims: int
) -> LogoTemplateIndex:
    """The template index of all logos, its basis read from ``directory`` when these very templates
    were indexed before (from :data:`BASIS_FROM` templates; fewer take milliseconds to index)."""
    if directory is None or len(templates) < BASIS_FROM:
        return LogoTemplateIndex(templates, support, dims=dims)
    path = _fingerprinted(directory, _TEMPLATE_BASIS, f"dims={dims}", templates)
    with suppress(OSError, ValueError, KeyError):  # missing, damaged or removed meanwhile: made below
        return LogoTemplateIndex(
            templates, support, dims=dims, basis=unpack_arrays(path.read_bytes())["basis"]
        )
    index = LogoTemplateIndex(templates, support, dims=dims)
    _replace(path, pack_arrays({"basis": index.basis}), TEMPLATE_BASIS_GLOB)
    return index


def _fingerprinted(directory: Path, name: tuple[str, str], how: str, made_from: np.ndarray) -> Path:
    """Where a file made (``how``) from the array ``made_from`` is kept: named by a sha256 of both."""
    digest = hashlib.sha256(f"{RECIPE} {how}".encode())
    digest.update(np.ascontiguousarray(made_from).tobytes())
    return directory / f"{name[0]}{digest.hexdigest()[:24]}{name[1]}"


def _replace(path: Path, data: bytes, pattern: str) -> None:
    """Write ``path`` and remove the other files matching ``pattern`` (a read-only home keeps none)."""
    with suppress(OSError):
        atomic_write_bytes(path, data)
        for old in path.parent.glob(pattern):
            if old != path:
                old.unlink(missing_ok=True)
