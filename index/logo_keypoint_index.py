"""FAISS index of all registered logos' ORB descriptors: which listing keypoints vote for which logo.

One binary search of the listing's descriptors against every logo's replaces matching
logo by logo, so the cost grows with the number of logos only through the search: exact
(flat Hamming) for small logo sets, an inverted file beyond ``IVF_FROM`` descriptors.
A listing keypoint votes for the logo of its nearest descriptor when that neighbour is
close (``max_distance`` bits) and clearly closer than the nearest one that is *not* the
same point of the same logo (the same point drawn at another size or over another
background is not a rival).
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

IVF_FROM = 5_000  # stored descriptors from which the inverted file is used (about 10 logos)
PROBED = 8  # inverted-file cells searched per query (of 2 * sqrt(rows)): about 3% of the rows
SAME_POINT = 12.0  # canonical px within which two of a logo's keypoints are the same point
NEIGHBOURS = 4
# Training rows sampled per cell. 32 trains 1,000 logos' index (770k rows, 1,755 cells) in 9 s
# against 19 s for 64, and the searches keep as many of the exact search's votes (0.83 of them).
TRAIN_PER_CELL = 32
# how an index is built from its descriptors: a saved index built otherwise is not reused
BUILD = f"flat-below={IVF_FROM} cells=2*sqrt(rows)<=4096 train={TRAIN_PER_CELL}/cell seed=0"


@dataclass
class KeypointVotes:
    """For each vote: the listing keypoint, the logo (owner) it votes for and the logo point it matched."""

    listing: np.ndarray  # (n,) int64 listing keypoint index
    owner: np.ndarray  # (n,) int64 logo entry position
    logo_points: np.ndarray  # (n, 2) float32 canonical logo coordinates


class LogoKeypointIndex:
    """Binary descriptors of all logos, each row knowing its logo and canonical point."""

    def __init__(
        self, descriptors: np.ndarray, owner: np.ndarray, points: np.ndarray, nprobe: int = PROBED
    ) -> None:
        """``descriptors``: (n, 32) uint8 ORB; ``owner``: (n,) logo entry position; ``points``: (n, 2) canonical."""
        self.owner = np.asarray(owner, np.int64)
        self.points = np.asarray(points, np.float32).reshape(-1, 2)
        descriptors = np.ascontiguousarray(descriptors, np.uint8).reshape(-1, 32)
        self.index: faiss.IndexBinary
        if len(descriptors) >= IVF_FROM:
            nlist = int(min(4096, 2 * np.sqrt(len(descriptors))))
            quantizer = faiss.IndexBinaryFlat(256)
            ivf = faiss.IndexBinaryIVF(quantizer, 256, nlist)
            # FAISS warns on stderr below 39 training rows per cell; fewer train well enough (the
            # warning is all this changes)
            ivf.cp.min_points_per_centroid = 8
            # training on a sample bounds the build time for large logo sets
            sample = np.random.default_rng(0).choice(
                len(descriptors), min(len(descriptors), TRAIN_PER_CELL * nlist), replace=False
            )
            ivf.train(descriptors[np.sort(sample)])
            ivf.nprobe = nprobe
            self._quantizer = quantizer  # the index does not own it: keep it alive beside the index
            self.index = ivf
        else:
            self.index = faiss.IndexBinaryFlat(256)
        if len(descriptors):
            self.index.add(descriptors)

    @classmethod
    def empty(cls) -> LogoKeypointIndex:
        """An index of no logos."""
        return cls(np.zeros((0, 32), np.uint8), np.zeros(0, np.int64), np.zeros((0, 2), np.float32))

    @classmethod
    def from_bytes(
        cls, data: bytes, owner: np.ndarray, points: np.ndarray, nprobe: int = PROBED
    ) -> LogoKeypointIndex:
        """An index written by :meth:`to_bytes`, with its rows' logos and canonical points.

        ValueError when it does not hold one row per ``owner``.
        """
        made = cls.empty()
        made.owner = np.asarray(owner, np.int64)
        made.points = np.asarray(points, np.float32).reshape(-1, 2)
        made.index = faiss.deserialize_index_binary(np.frombuffer(data, np.uint8))
        if made.index.ntotal != len(made.owner) or made.index.d != 256:
            raise ValueError(f"keypoint index of {made.index.ntotal} rows for {len(made.owner)} keypoints")
        if isinstance(made.index, faiss.IndexBinaryIVF):
            made.index.nprobe = nprobe
        return made

    def to_bytes(self) -> bytes:
        """The FAISS index, serialised (its logos and points are the caller's to keep)."""
        return faiss.serialize_index_binary(self.index).tobytes()

    def __len__(self) -> int:
        return len(self.owner)

    def votes(self, descriptors: np.ndarray, max_distance: int = 64, ratio: float = 0.8) -> KeypointVotes:
        """Votes of listing ``descriptors`` ((m, 32) uint8) for logos (see the module docstring)."""
        empty = KeypointVotes(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2), np.float32))
        if not len(self) or not len(descriptors):
            return empty
        k = min(NEIGHBOURS, len(self))
        dist, rows = self.index.search(np.ascontiguousarray(descriptors, np.uint8), k)
        first = rows[:, 0]
        ok = (first >= 0) & (dist[:, 0] <= max_distance)
        # the nearest rival: a neighbour of another logo, or of the same logo at another point
        safe = np.where(rows >= 0, rows, 0)
        same_logo = self.owner[safe] == self.owner[safe[:, 0]][:, None]
        offset = self.points[safe] - self.points[safe[:, 0]][:, None, :]
        same_point = same_logo & (np.hypot(offset[..., 0], offset[..., 1]) <= SAME_POINT) & (rows >= 0)
        rival = np.where(same_point, np.inf, dist.astype(np.float64))
        rival[:, 0] = np.inf
        ok &= dist[:, 0] < ratio * rival.min(axis=1)
        idx = np.nonzero(ok)[0]
        return KeypointVotes(idx.astype(np.int64), self.owner[first[idx]], self.points[first[idx]])
