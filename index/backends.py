"""Index backends by name: what :class:`index.space.VectorSpace` builds and loads for each.

``auto`` picks flat / IVF fast-scan re-ranked (``ivf_fs``) / IVF-SQ8 / IVF-PQ by catalogue
size and memory budget when the index is (re)built (:mod:`index.choose`); ``flat``,
``ivf_fs``, ``ivf_sq8`` and ``ivf_pq`` force one;
``milvus`` keeps vectors in a Milvus collection (Milvus Lite file or a server).
Factories take ``(dim, count=..., space=...)``; loaders take the index file path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from index.choose import IndexOptions, plan_index
from index.faiss_ann import FlatIndex, IvfIndex, load_faiss
from index.vector_index import VectorIndex

BACKENDS = ("auto", "flat", "ivf_fs", "ivf_sq8", "ivf_pq", "milvus")


def _config(home: Path) -> dict:
    """Settings in ``<home>/config.json`` (used when the caller passes none)."""
    path = Path(home) / "config.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def faiss_index(name: str, dim: int, count: int, options: IndexOptions) -> VectorIndex:
    """A new, empty FAISS index of backend ``name`` for about ``count`` vectors."""
    plan = plan_index(count, dim, options, kind=name)
    if plan.kind == "flat":
        return FlatIndex(dim, grow_limit=options.flat_max if name == "auto" else None)
    return IvfIndex.create(dim, plan)


def milvus_uri(options: IndexOptions, home: Path) -> str:
    """The Milvus URI: a server address as given, or a Milvus Lite file resolved against ``home``."""
    from index.milvus_index import is_local

    uri = options.milvus_uri
    if not is_local(uri):
        return uri
    path = Path(uri).expanduser()
    return str(path if path.is_absolute() else Path(home) / path)


def backend_options(name: str, home: Path, settings: Mapping[str, object] | None = None) -> dict:
    """``factory``/``loader``/``build_options`` keyword arguments for a VectorSpace using backend ``name``.

    ``settings`` holds ``index_*``/``milvus_*`` keys (defaults: ``<home>/config.json``).
    """
    options = IndexOptions.from_mapping(settings if settings is not None else _config(home))
    build = {
        "train_sample": options.train_sample,
        "target_recall": options.target_recall,
        "max_probe_share": options.max_probe_share,
    }
    return {**_backend(name, Path(home), options), "build_options": build}


def _backend(name: str, home: Path, options: IndexOptions) -> dict:
    if name in ("auto", "flat", "ivf_fs", "ivf_sq8", "ivf_pq"):
        grow_limit = options.flat_max if name == "auto" else None

        def factory(dim: int, count: int = 0) -> VectorIndex:
            return faiss_index(name, dim, count, options)

        def loader(path: Path) -> VectorIndex:
            index = load_faiss(path, grow_limit=grow_limit)
            if name != "auto" and index.kind != name:  # backend changed in config: rebuild as asked
                raise ValueError(f"index file is {index.kind}, backend is {name}")
            return index

        return {"factory": factory, "loader": loader}
    if name == "milvus":
        return _milvus_options(options, home)
    raise ValueError(f"unknown index backend {name!r}; known: {', '.join(BACKENDS)}")


def _milvus_options(options: IndexOptions, home: Path) -> dict:
    try:
        import pymilvus  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValueError("index_backend 'milvus' needs pymilvus: pip install 'authcheck[milvus]'") from exc
    from index.milvus_index import MilvusIndex, collection_name
    from index.space import VIEWS

    uri = milvus_uri(options, home)

    def factory(dim: int, count: int = 0, space: str = "") -> VectorIndex:
        name = collection_name(options.milvus_collection_prefix, space or "default")
        return MilvusIndex(dim, uri, name, views=VIEWS, index_type=options.milvus_index_type, fresh=True)

    def loader(path: Path) -> VectorIndex:
        pointer = json.loads(Path(path).read_text())
        if pointer.get("uri") != uri:  # pointed elsewhere now: rebuild into the configured Milvus
            raise ValueError(f"index pointer names {pointer.get('uri')}, configured {uri}")
        return MilvusIndex(
            0, uri, pointer["collection"], views=VIEWS, index_type=options.milvus_index_type, create=False
        )

    return {"factory": factory, "loader": loader}
