"""The catalogue: brands, sellers, references, screenings, reviews, keys and audit, in SQLite.

All SQL of the project lives in this module and sticks to portable SQL, so the catalogue
can move to PostgreSQL. Reference descriptors are stored here too (as float32 blobs): the
vector indexes are derived data that can always be rebuilt from the catalogue.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1
KINDS = ("catalogue", "logo")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS brands (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS wordmarks (
    brand_id INTEGER NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    PRIMARY KEY (brand_id, text)
);
CREATE TABLE IF NOT EXISTS sellers (
    brand_id INTEGER NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    seller_id TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (brand_id, seller_id)
);
CREATE TABLE IF NOT EXISTS refs (
    id INTEGER PRIMARY KEY,
    brand_id INTEGER NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    model TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    stored_path TEXT NOT NULL,
    added_at REAL NOT NULL,
    UNIQUE (brand_id, sha256)
);
CREATE INDEX IF NOT EXISTS refs_kind ON refs(kind);
CREATE TABLE IF NOT EXISTS ref_vectors (
    ref_id INTEGER NOT NULL REFERENCES refs(id) ON DELETE CASCADE,
    space TEXT NOT NULL,
    vectors BLOB NOT NULL,
    PRIMARY KEY (ref_id, space)
);
CREATE TABLE IF NOT EXISTS screenings (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    image TEXT NOT NULL,
    listing_id TEXT,
    seller_id TEXT,
    verdict TEXT NOT NULL,
    score REAL NOT NULL,
    result TEXT NOT NULL,
    listing_path TEXT,
    status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS screenings_status ON screenings(status, created_at);
CREATE TABLE IF NOT EXISTS screening_brands (
    screening_id INTEGER NOT NULL REFERENCES screenings(id) ON DELETE CASCADE,
    brand_id INTEGER NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    PRIMARY KEY (screening_id, brand_id)
);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY,
    screening_id INTEGER NOT NULL REFERENCES screenings(id) ON DELETE CASCADE,
    decision TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    role TEXT NOT NULL,
    brand_id INTEGER REFERENCES brands(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_subject ON audit(subject, at);
"""


class CatalogueError(Exception):
    """A catalogue request that cannot be carried out (unknown brand, bad kind, ...)."""


@dataclass(frozen=True)
class Brand:
    """A brand and who it authorises."""

    id: int
    name: str
    authorised_sellers: tuple[str, ...]
    wordmarks: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    """A registered reference image."""

    id: int
    brand: str
    kind: str
    source: str
    sha256: str
    model: str
    width: int
    height: int
    stored_path: str
    added_at: float


@dataclass(frozen=True)
class NewReference:
    """A reference about to be inserted, with its descriptors per vector space."""

    brand: str
    kind: str
    source: str
    sha256: str
    model: str
    width: int
    height: int
    stored_path: str
    vectors: dict[str, np.ndarray]


def _blob(vectors: np.ndarray) -> bytes:
    return np.ascontiguousarray(vectors, dtype=np.float32).tobytes()


class Catalogue:
    """One SQLite catalogue file. Safe across threads (one connection per thread) and processes (WAL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._con().executescript(_SCHEMA)
        with self.transaction() as con:
            con.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO NOTHING",
                (str(SCHEMA_VERSION),),
            )

    # -- connection handling -------------------------------------------------------------
    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA busy_timeout=30000")
            self._local.con = con
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): all or nothing, one writer at a time."""
        con = self._con()
        if con.in_transaction:
            yield con
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A value from the meta table."""
        row = self._con().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        """Set a value in the meta table."""
        with self.transaction() as con:
            con.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def bump_generation(self, con: sqlite3.Connection, space: str) -> int:
        """Increment and return the change counter of a vector space (inside a transaction)."""
        key = f"generation:{space}"
        row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        gen = int(row[0]) + 1 if row else 1
        con.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, str(gen)),
        )
        return gen

    def generation(self, space: str) -> int:
        """Current change counter of a vector space (0 if never changed)."""
        return int(self.get_meta(f"generation:{space}", "0") or 0)

    # -- brands, sellers, wordmarks ------------------------------------------------------
    def _brand_id(self, con: sqlite3.Connection, name: str) -> int:
        row = con.execute("SELECT id FROM brands WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise CatalogueError(f"unknown brand {name!r} (create it with `authcheck brand add {name}`)")
        return int(row[0])

    def add_brand(self, name: str, sellers: Iterable[str] = (), wordmarks: Iterable[str] = ()) -> Brand:
        """Create a brand (or add sellers/wordmarks to an existing one)."""
        name = name.strip()
        if not name:
            raise CatalogueError("brand name must not be empty")
        now = time.time()
        with self.transaction() as con:
            con.execute(
                "INSERT INTO brands(name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING", (name, now)
            )
            bid = self._brand_id(con, name)
            for seller in sellers:
                con.execute(
                    "INSERT INTO sellers(brand_id, seller_id, added_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(brand_id, seller_id) DO NOTHING",
                    (bid, seller, now),
                )
            for text in wordmarks:
                con.execute(
                    "INSERT INTO wordmarks(brand_id, text) VALUES (?, ?) ON CONFLICT(brand_id, text) DO NOTHING",
                    (bid, text),
                )
        return self.get_brand(name)

    def get_brand(self, name: str) -> Brand:
        """One brand by name; raises :class:`CatalogueError` if unknown."""
        con = self._con()
        bid = self._brand_id(con, name)
        sellers = tuple(
            r[0]
            for r in con.execute(
                "SELECT seller_id FROM sellers WHERE brand_id = ? ORDER BY seller_id", (bid,)
            )
        )
        marks = tuple(
            r[0] for r in con.execute("SELECT text FROM wordmarks WHERE brand_id = ? ORDER BY text", (bid,))
        )
        return Brand(id=bid, name=name, authorised_sellers=sellers, wordmarks=marks)

    def list_brands(self) -> list[Brand]:
        """All brands, by name."""
        names = [r[0] for r in self._con().execute("SELECT name FROM brands ORDER BY name")]
        return [self.get_brand(n) for n in names]

    def brand_counts(self) -> dict[str, dict[str, int]]:
        """Per brand, the number of references of each kind."""
        rows = self._con().execute(
            "SELECT b.name, r.kind, COUNT(r.id) FROM brands b LEFT JOIN refs r ON r.brand_id = b.id "
            "GROUP BY b.name, r.kind"
        )
        out: dict[str, dict[str, int]] = {}
        for name, kind, n in rows:
            out.setdefault(name, {k: 0 for k in KINDS})
            if kind:
                out[name][kind] = int(n)
        return out

    def set_sellers(self, brand: str, sellers: Iterable[str], authorised: bool) -> Brand:
        """Authorise (``authorised=True``) or revoke sellers for a brand."""
        now = time.time()
        with self.transaction() as con:
            bid = self._brand_id(con, brand)
            for seller in sellers:
                if authorised:
                    con.execute(
                        "INSERT INTO sellers(brand_id, seller_id, added_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(brand_id, seller_id) DO NOTHING",
                        (bid, seller, now),
                    )
                else:
                    con.execute("DELETE FROM sellers WHERE brand_id = ? AND seller_id = ?", (bid, seller))
        return self.get_brand(brand)

    def set_wordmarks(self, brand: str, texts: Iterable[str], present: bool) -> Brand:
        """Add (``present=True``) or remove wordmarks of a brand."""
        with self.transaction() as con:
            bid = self._brand_id(con, brand)
            for text in texts:
                if present:
                    con.execute(
                        "INSERT INTO wordmarks(brand_id, text) VALUES (?, ?) ON CONFLICT(brand_id, text) DO NOTHING",
                        (bid, text),
                    )
                else:
                    con.execute("DELETE FROM wordmarks WHERE brand_id = ? AND text = ?", (bid, text))
        return self.get_brand(brand)

    def authorised_map(self) -> dict[str, frozenset[str]]:
        """Brand name -> authorised seller ids (one query, for screening)."""
        out: dict[str, set[str]] = {}
        for name, seller in self._con().execute(
            "SELECT b.name, s.seller_id FROM brands b JOIN sellers s ON s.brand_id = b.id"
        ):
            out.setdefault(name, set()).add(seller)
        return {k: frozenset(v) for k, v in out.items()}

    def wordmark_map(self) -> dict[str, tuple[str, ...]]:
        """Brand name -> wordmarks."""
        out: dict[str, list[str]] = {}
        for name, text in self._con().execute(
            "SELECT b.name, w.text FROM brands b JOIN wordmarks w ON w.brand_id = b.id ORDER BY w.text"
        ):
            out.setdefault(name, []).append(text)
        return {k: tuple(v) for k, v in out.items()}

    # -- references ----------------------------------------------------------------------
    _REF_COLS = (
        "r.id, b.name, r.kind, r.source, r.sha256, r.model, r.width, r.height, r.stored_path, r.added_at"
    )

    def find_reference(self, brand: str, sha256: str) -> Reference | None:
        """The reference with these bytes under this brand, if registered."""
        row = (
            self._con()
            .execute(
                f"SELECT {self._REF_COLS} FROM refs r JOIN brands b ON b.id = r.brand_id "
                "WHERE b.name = ? AND r.sha256 = ?",
                (brand, sha256),
            )
            .fetchone()
        )
        return Reference(*row) if row else None

    def add_references(self, refs: Iterable[NewReference], spaces: Iterable[str] = ()) -> list[int]:
        """Insert references and their vectors in one transaction; returns the new ids.

        References whose (brand, sha256) already exist are skipped (their id is -1).
        The generation of every touched vector space is bumped.
        """
        now = time.time()
        ids: list[int] = []
        touched: set[str] = set(spaces)
        with self.transaction() as con:
            for ref in refs:
                if ref.kind not in KINDS:
                    raise CatalogueError(f"kind must be one of {KINDS}, not {ref.kind!r}")
                bid = self._brand_id(con, ref.brand)
                cur = con.execute(
                    "INSERT INTO refs(brand_id, kind, source, sha256, model, width, height, stored_path, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(brand_id, sha256) DO NOTHING",
                    (
                        bid,
                        ref.kind,
                        ref.source,
                        ref.sha256,
                        ref.model,
                        ref.width,
                        ref.height,
                        ref.stored_path,
                        now,
                    ),
                )
                if cur.rowcount == 0:
                    ids.append(-1)
                    continue
                rid = int(cur.lastrowid)
                ids.append(rid)
                for space, vecs in ref.vectors.items():
                    con.execute(
                        "INSERT INTO ref_vectors(ref_id, space, vectors) VALUES (?, ?, ?)",
                        (rid, space, _blob(vecs)),
                    )
                    touched.add(space)
            for space in touched:
                self.bump_generation(con, space)
        return ids

    def set_stored_path(self, ref_id: int, stored_path: str) -> None:
        """Record where the reference's stored copy lives."""
        with self.transaction() as con:
            con.execute("UPDATE refs SET stored_path = ? WHERE id = ?", (stored_path, ref_id))

    def remove_references(self, ids: Iterable[int], brand: str | None = None) -> list[Reference]:
        """Delete references (only of ``brand`` when given); returns what was removed."""
        removed: list[Reference] = []
        with self.transaction() as con:
            spaces: set[str] = set()
            for rid in ids:
                ref = self.get_reference(int(rid))
                if ref is None or (brand is not None and ref.brand != brand):
                    continue
                spaces.update(
                    r[0] for r in con.execute("SELECT space FROM ref_vectors WHERE ref_id = ?", (rid,))
                )
                con.execute("DELETE FROM ref_vectors WHERE ref_id = ?", (rid,))
                con.execute("DELETE FROM refs WHERE id = ?", (rid,))
                removed.append(ref)
            for space in spaces:
                self.bump_generation(con, space)
        return removed

    def get_reference(self, ref_id: int) -> Reference | None:
        """One reference by id."""
        row = (
            self._con()
            .execute(
                f"SELECT {self._REF_COLS} FROM refs r JOIN brands b ON b.id = r.brand_id WHERE r.id = ?",
                (ref_id,),
            )
            .fetchone()
        )
        return Reference(*row) if row else None

    def get_references(self, ids: Iterable[int]) -> dict[int, Reference]:
        """Several references by id (missing ones are left out)."""
        wanted = sorted({int(i) for i in ids if int(i) >= 0})
        out: dict[int, Reference] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._con().execute(
                f"SELECT {self._REF_COLS} FROM refs r JOIN brands b ON b.id = r.brand_id WHERE r.id IN ({marks})",
                chunk,
            ):
                out[int(row[0])] = Reference(*row)
        return out

    def list_references(
        self, brand: str | None = None, kind: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[Reference]:
        """References, newest first, optionally of one brand and/or kind."""
        where, args = [], []
        if brand is not None:
            where.append("b.name = ?")
            args.append(brand)
        if kind is not None:
            where.append("r.kind = ?")
            args.append(kind)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._con().execute(
            f"SELECT {self._REF_COLS} FROM refs r JOIN brands b ON b.id = r.brand_id {clause} "
            "ORDER BY r.id DESC LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [Reference(*row) for row in rows]

    def count_references(self, kind: str | None = None) -> int:
        """Number of references (of one kind if given)."""
        if kind is None:
            return int(self._con().execute("SELECT COUNT(*) FROM refs").fetchone()[0])
        return int(self._con().execute("SELECT COUNT(*) FROM refs WHERE kind = ?", (kind,)).fetchone()[0])

    def iter_vectors(self, space: str, batch: int = 4096) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
        """Stream (ref ids, vectors per ref) of one vector space, in id order, in batches."""
        last = -1
        while True:
            rows = (
                self._con()
                .execute(
                    "SELECT ref_id, vectors FROM ref_vectors WHERE space = ? AND ref_id > ? ORDER BY ref_id LIMIT ?",
                    (space, last, batch),
                )
                .fetchall()
            )
            if not rows:
                return
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vecs = [np.frombuffer(r[1], dtype=np.float32) for r in rows]
            yield ids, vecs
            last = int(ids[-1])

    def vector_ids(self, space: str) -> np.ndarray:
        """Ids of all references that have vectors in ``space``, sorted."""
        rows = self._con().execute("SELECT ref_id FROM ref_vectors WHERE space = ? ORDER BY ref_id", (space,))
        return np.array([r[0] for r in rows], dtype=np.int64)

    def brand_reference_ids(self, brand: str, kind: str | None = None) -> np.ndarray:
        """Ids of one brand's references (for brand-scoped search)."""
        sql = "SELECT r.id FROM refs r JOIN brands b ON b.id = r.brand_id WHERE b.name = ?"
        args: list[object] = [brand]
        if kind:
            sql += " AND r.kind = ?"
            args.append(kind)
        return np.array([r[0] for r in self._con().execute(sql, args)], dtype=np.int64)

    def models_in_use(self) -> set[str]:
        """Descriptor model names that references were embedded with."""
        return {r[0] for r in self._con().execute("SELECT DISTINCT model FROM refs")}

    def replace_vectors(self, ref_id: int, model: str, vectors: dict[str, np.ndarray]) -> None:
        """Swap a reference's vectors (re-embedding with another model)."""
        with self.transaction() as con:
            con.execute("UPDATE refs SET model = ? WHERE id = ?", (model, ref_id))
            for space, vecs in vectors.items():
                con.execute(
                    "INSERT INTO ref_vectors(ref_id, space, vectors) VALUES (?, ?, ?) "
                    "ON CONFLICT(ref_id, space) DO UPDATE SET vectors = excluded.vectors",
                    (ref_id, space, _blob(vecs)),
                )
                self.bump_generation(con, space)

    # -- screenings and reviews ----------------------------------------------------------
    def add_screening(
        self,
        *,
        image: str,
        verdict: str,
        score: float,
        result: dict,
        brands: Iterable[str] = (),
        listing_id: str | None = None,
        seller_id: str | None = None,
        listing_path: str | None = None,
        status: str = "none",
    ) -> int:
        """Store one screening result; flagged ones get ``status='open'`` for the review queue."""
        with self.transaction() as con:
            cur = con.execute(
                "INSERT INTO screenings(created_at, image, listing_id, seller_id, verdict, score, result, "
                "listing_path, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    image,
                    listing_id,
                    seller_id,
                    verdict,
                    score,
                    json.dumps(result),
                    listing_path,
                    status,
                ),
            )
            sid = int(cur.lastrowid)
            for name in set(brands):
                row = con.execute("SELECT id FROM brands WHERE name = ?", (name,)).fetchone()
                if row:
                    con.execute(
                        "INSERT INTO screening_brands(screening_id, brand_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        (sid, row[0]),
                    )
        return sid

    def get_screening(self, sid: int) -> dict | None:
        """One screening with its result, brands and reviews."""
        con = self._con()
        row = con.execute(
            "SELECT id, created_at, image, listing_id, seller_id, verdict, score, result, listing_path, status "
            "FROM screenings WHERE id = ?",
            (sid,),
        ).fetchone()
        if row is None:
            return None
        out = self._screening_row(row)
        out["reviews"] = [
            {"id": r[0], "decision": r[1], "reviewer": r[2], "note": r[3], "created_at": r[4]}
            for r in con.execute(
                "SELECT id, decision, reviewer, note, created_at FROM reviews WHERE screening_id = ? ORDER BY id",
                (sid,),
            )
        ]
        return out

    def _screening_row(self, row: tuple) -> dict:
        brands = [
            r[0]
            for r in self._con().execute(
                "SELECT b.name FROM screening_brands sb JOIN brands b ON b.id = sb.brand_id "
                "WHERE sb.screening_id = ? ORDER BY b.name",
                (row[0],),
            )
        ]
        return {
            "id": row[0],
            "created_at": row[1],
            "image": row[2],
            "listing_id": row[3],
            "seller_id": row[4],
            "verdict": row[5],
            "score": row[6],
            "result": json.loads(row[7]),
            "listing_path": row[8],
            "status": row[9],
            "brands": brands,
        }

    def list_screenings(
        self,
        *,
        status: str | None = None,
        brand: str | None = None,
        verdict: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict]:
        """Screenings newest first, filtered by review status, brand and verdict."""
        where, args = [], []
        if status is not None:
            where.append("s.status = ?")
            args.append(status)
        if verdict is not None:
            where.append("s.verdict = ?")
            args.append(verdict)
        if brand is not None:
            where.append(
                "EXISTS (SELECT 1 FROM screening_brands sb JOIN brands b ON b.id = sb.brand_id "
                "WHERE sb.screening_id = s.id AND b.name = ?)"
            )
            args.append(brand)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = (
            self._con()
            .execute(
                "SELECT s.id, s.created_at, s.image, s.listing_id, s.seller_id, s.verdict, s.score, s.result, "
                f"s.listing_path, s.status FROM screenings s {clause} ORDER BY s.id DESC LIMIT ? OFFSET ?",
                (*args, limit, offset),
            )
            .fetchall()
        )
        return [self._screening_row(r) for r in rows]

    def add_review(self, sid: int, decision: str, reviewer: str, note: str, new_status: str) -> int:
        """Record a reviewer's decision on a screening and move it out of the queue."""
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM screenings WHERE id = ?", (sid,)).fetchone() is None:
                raise CatalogueError(f"no screening {sid}")
            cur = con.execute(
                "INSERT INTO reviews(screening_id, decision, reviewer, note, created_at) VALUES (?, ?, ?, ?, ?)",
                (sid, decision, reviewer, note, time.time()),
            )
            con.execute("UPDATE screenings SET status = ? WHERE id = ?", (new_status, sid))
            return int(cur.lastrowid)

    # -- API keys ------------------------------------------------------------------------
    def add_api_key(self, key_hash: str, prefix: str, role: str, brand: str | None, label: str) -> int:
        """Store a hashed API key."""
        with self.transaction() as con:
            bid = self._brand_id(con, brand) if brand else None
            cur = con.execute(
                "INSERT INTO api_keys(key_hash, prefix, role, brand_id, label, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key_hash, prefix, role, bid, label, time.time()),
            )
            return int(cur.lastrowid)

    def find_api_key(self, key_hash: str) -> dict | None:
        """The live key with this hash: id, role, brand."""
        row = (
            self._con()
            .execute(
                "SELECT k.id, k.role, b.name, k.label FROM api_keys k LEFT JOIN brands b ON b.id = k.brand_id "
                "WHERE k.key_hash = ? AND k.revoked_at IS NULL",
                (key_hash,),
            )
            .fetchone()
        )
        return {"id": row[0], "role": row[1], "brand": row[2], "label": row[3]} if row else None

    def list_api_keys(self) -> list[dict]:
        """All keys (never the secret: only its prefix)."""
        rows = self._con().execute(
            "SELECT k.id, k.prefix, k.role, b.name, k.label, k.created_at, k.revoked_at FROM api_keys k "
            "LEFT JOIN brands b ON b.id = k.brand_id ORDER BY k.id"
        )
        cols = ("id", "prefix", "role", "brand", "label", "created_at", "revoked_at")
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def revoke_api_key(self, key_id: int) -> bool:
        """Revoke a key by id; False if there was no live key with that id."""
        with self.transaction() as con:
            cur = con.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (time.time(), key_id),
            )
            return cur.rowcount > 0

    # -- audit ---------------------------------------------------------------------------
    def audit(self, actor: str, action: str, subject: str, detail: dict | None = None) -> None:
        """Append an audit record."""
        with self.transaction() as con:
            con.execute(
                "INSERT INTO audit(at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                (time.time(), actor, action, subject, json.dumps(detail or {})),
            )

    def audit_log(self, subject: str | None = None, limit: int = 200) -> list[dict]:
        """Audit records, newest first (for one subject when given)."""
        sql = "SELECT at, actor, action, subject, detail FROM audit"
        args: list[object] = []
        if subject is not None:
            sql += " WHERE subject = ?"
            args.append(subject)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [
            {"at": r[0], "actor": r[1], "action": r[2], "subject": r[3], "detail": json.loads(r[4])}
            for r in self._con().execute(sql, args)
        ]

    # -- re-embedding support (used by authcheck.reindex) --------------------------------
    def drop_vector_space(self, space: str) -> int:
        """Delete every vector stored in ``space`` (after re-embedding into another); returns rows deleted."""
        with self.transaction() as con:
            cur = con.execute("DELETE FROM ref_vectors WHERE space = ?", (space,))
            self.bump_generation(con, space)
            return int(cur.rowcount)
