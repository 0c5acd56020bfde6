"""A :class:`VectorIndex` on Milvus, for catalogues past one machine (or Milvus Lite, embedded).

One collection per vector space: ``id`` (int64 primary key, the vector id), ``ref`` (the
reference id, ``id // views``, for brand-scoped filters) and ``vec`` (float vector, inner
product). ``uri`` is either a local path ending in ``.db`` (Milvus Lite, in-process, one
process at a time) or ``http(s)://host:19530`` for a Milvus server or cluster. Writes use
upsert, so replaying a batch after a crash is harmless. The index file the vector space
keeps beside its infos is only a pointer (``{"uri", "collection"}``): the vectors live
in Milvus.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from index.selection import RefSelection
from index.vector_index import VectorIndex, atomic_write_bytes

INSERT_BATCH = 2000  # rows per upsert call
FILTER_CHUNK = 5000  # ids per ``in [...]`` filter; larger allowed sets are searched in parts and merged

Allowed = np.ndarray | RefSelection


def collection_name(prefix: str, space: str) -> str:
    """A valid Milvus collection name for a vector space (letters, digits and underscores)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", f"{prefix}_{space}")
    return name if name[0].isalpha() or name[0] == "_" else f"c_{name}"


def is_local(uri: str) -> bool:
    """Whether ``uri`` names a Milvus Lite file rather than a server."""
    return not re.match(r"^(https?|tcp|unix):", uri)


class MilvusIndex(VectorIndex):
    """Vectors in one Milvus collection; ``views`` maps vector ids to reference ids (``id // views``)."""

    kind = "milvus"

    def __init__(
        self,
        dim: int,
        uri: str,
        collection: str,
        *,
        views: int = 64,
        index_type: str = "AUTOINDEX",
        token: str | None = None,
        fresh: bool = False,
        create: bool = True,
    ) -> None:
        from pymilvus import MilvusClient  # optional dependency: the `milvus` extra

        super().__init__(dim)
        self.uri = uri
        self.collection = collection
        self.views = views
        self.index_type = index_type
        if is_local(uri):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        self._client = MilvusClient(uri=uri, token=token or os.environ.get("MILVUS_TOKEN", ""))
        if fresh and self._client.has_collection(collection):
            self._client.drop_collection(collection)
        if self._client.has_collection(collection):
            self.dim = self.dim or self._collection_dim()
            self._check_dim()
            self._client.load_collection(collection)  # a reopened collection starts released
        elif create and dim > 0:
            self._create()
        else:
            self._client.close()
            raise LookupError(f"no Milvus collection {collection!r} at {uri}")

    # -- collection ---------------------------------------------------------------------
    def _create(self) -> None:
        from pymilvus import DataType

        client = self._client
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("ref", DataType.INT64)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=self.dim)
        params = client.prepare_index_params()
        params.add_index(field_name="vec", index_type=self.index_type, metric_type="IP")
        params.add_index(field_name="ref", index_type="INVERTED")
        client.create_collection(
            self.collection, schema=schema, index_params=params, consistency_level="Strong"
        )

    def _check_dim(self) -> None:
        dim = self._collection_dim()
        if dim != self.dim:
            raise ValueError(f"Milvus collection {self.collection} holds {dim}-d vectors, not {self.dim}-d")

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        self._client.drop_collection(self.collection)

    def close(self) -> None:
        """Close the connection (and stop the embedded server of a Milvus Lite file)."""
        self._client.close()
        if is_local(self.uri):
            try:
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(self.uri)
            except ImportError:  # older milvus-lite: released at exit
                pass

    # -- changes ------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        mat = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(mat) != len(ids):
            raise ValueError(f"{len(ids)} ids for {len(mat)} vectors")
        for start in range(0, len(ids), INSERT_BATCH):
            rows = [
                {"id": int(i), "ref": int(i) // self.views, "vec": v}
                for i, v in zip(
                    ids[start : start + INSERT_BATCH], mat[start : start + INSERT_BATCH], strict=True
                )
            ]
            self._client.upsert(self.collection, rows)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.unique(np.ascontiguousarray(ids, dtype=np.int64).ravel())
        present: list[int] = []
        for start in range(0, len(ids), FILTER_CHUNK):
            chunk = ids[start : start + FILTER_CHUNK].tolist()
            rows = self._client.query(self.collection, filter=f"id in {chunk}", output_fields=["id"])
            present.extend(int(r["id"]) for r in rows)
        for start in range(0, len(present), FILTER_CHUNK):
            self._client.delete(self.collection, ids=present[start : start + FILTER_CHUNK])
        return len(present)

    # -- queries ------------------------------------------------------------------------
    def _filters(self, allowed: Allowed | None) -> list[str | None]:
        if allowed is None:
            return [None]
        if isinstance(allowed, RefSelection):
            field, values = "ref", allowed.ref_ids
        else:
            field, values = "id", np.unique(np.asarray(allowed, dtype=np.int64))
        return [
            f"{field} in {values[s : s + FILTER_CHUNK].tolist()}" for s in range(0, len(values), FILTER_CHUNK)
        ]

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: Allowed | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        mat = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        sims = np.full((len(mat), k), -np.inf, dtype=np.float32)
        ids = np.full((len(mat), k), -1, dtype=np.int64)
        if len(mat) == 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            return sims, ids
        for expr in self._filters(allowed_ids):  # several filters: search each part, keep the best k
            kwargs = {"filter": expr} if expr else {}
            hits = self._client.search(
                self.collection,
                data=list(mat),
                limit=k,
                anns_field="vec",
                search_params={"metric_type": "IP"},
                output_fields=["id"],
                **kwargs,
            )
            for row, found in enumerate(hits):
                merged = list(zip(sims[row], ids[row], strict=True))
                merged += [(float(h["distance"]), int(h["id"])) for h in found]
                merged = sorted((m for m in merged if m[1] >= 0), key=lambda m: -m[0])[:k]
                for col, (s, i) in enumerate(merged):
                    sims[row, col], ids[row, col] = s, i
        return sims, ids

    def ids(self) -> np.ndarray:
        it = self._client.query_iterator(self.collection, batch_size=10_000, filter="", output_fields=["id"])
        out: list[int] = []
        try:
            while batch := it.next():
                out.extend(int(r["id"]) for r in batch)
        finally:
            it.close()
        return np.sort(np.array(out, dtype=np.int64))

    def __len__(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    # -- persistence --------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Flush Milvus and write the pointer file (uri + collection) the vector space keeps."""
        self._client.flush(self.collection)
        atomic_write_bytes(path, json.dumps({"uri": self.uri, "collection": self.collection}).encode())

    @classmethod
    def load(cls, path: Path, dim: int | None = None, **kwargs) -> MilvusIndex:
        """Connect to the collection a pointer file names."""
        pointer = json.loads(Path(path).read_text())
        return cls(dim or 0, pointer["uri"], pointer["collection"], create=False, **kwargs)

    def _collection_dim(self) -> int:
        for f in self._client.describe_collection(self.collection).get("fields", []):
            if f.get("name") == "vec":
                return int(f.get("params", {}).get("dim", 0))
        return 0

    def info(self) -> dict:
        out = super().info()
        out.update(
            {
                "uri": self.uri if is_local(self.uri) else re.sub(r"//[^@/]*@", "//", self.uri),
                "collection": self.collection,
                "index_type": self.index_type,
                "metric": "inner_product",
                "exact": self.index_type in ("FLAT", "BRUTE_FORCE"),
            }
        )
        return out
