"""SSCD's training objective: InfoNCE over pairs of views plus a KoLeo (entropy) regulariser.

A batch holds 2B unit vectors: rows ``i`` and ``i + B`` are two edited views of one image.
InfoNCE pulls each view towards its partner and away from every other view in the batch.
The entropy term (Kozachenko-Leonenko estimator) pushes each vector away from its nearest
*other-image* neighbour, spreading descriptors uniformly over the sphere, which is what
makes one similarity threshold work across a whole catalogue.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pair_targets(n: int, device: torch.device) -> torch.Tensor:
    """Index of each row's partner view in a batch of ``n`` = 2B rows."""
    return (torch.arange(n, device=device) + n // 2) % n


def info_nce(z: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Contrastive loss of 2B unit vectors whose rows i and i+B are positives."""
    n = z.shape[0]
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(n, dtype=torch.bool, device=z.device), float("-inf"))
    return F.cross_entropy(sim, pair_targets(n, z.device))


def koleo(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Entropy regulariser: minus the mean log distance to the nearest view of another image."""
    n = z.shape[0]
    with torch.no_grad():
        sim = z @ z.T
        same = torch.eye(n, dtype=torch.bool, device=z.device)
        same[torch.arange(n, device=z.device), pair_targets(n, z.device)] = True
        nearest = sim.masked_fill(same, float("-inf")).argmax(dim=1)
    dist = (z - z[nearest]).norm(dim=1)
    return -torch.log(dist + eps).mean()


class CopyDetectionLoss(torch.nn.Module):
    """InfoNCE + ``entropy_weight`` x KoLeo; also reports batch statistics."""

    def __init__(self, temperature: float = 0.05, entropy_weight: float = 30.0):
        super().__init__()
        self.temperature = temperature
        self.entropy_weight = entropy_weight

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """(loss, stats) for a (2B, d) batch of unit vectors (computed in float32)."""
        z = z.float()
        nce = info_nce(z, self.temperature)
        ent = koleo(z)
        loss = nce + self.entropy_weight * ent
        with torch.no_grad():
            n = z.shape[0]
            sim = (z @ z.T).masked_fill(torch.eye(n, dtype=torch.bool, device=z.device), -2.0)
            partner = pair_targets(n, z.device)
            pos = sim[torch.arange(n, device=z.device), partner]
            top1 = (sim.argmax(dim=1) == partner).float().mean()
            sim[torch.arange(n, device=z.device), partner] = -2.0
            hardest = sim.max(dim=1).values
        stats = {
            "loss": float(loss.detach()),
            "nce": float(nce.detach()),
            "koleo": float(ent.detach()),
            "pos": float(pos.mean()),
            "neg": float(hardest.mean()),
            "top1": float(top1),
        }
        return loss, stats
