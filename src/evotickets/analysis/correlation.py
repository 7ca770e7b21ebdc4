"""How SNR and magnitude rankings relate (paper Fig. 7), and layerwise summaries (Fig. 11)."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from .. import pruning
from ..networks import LayerEntry


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ; NaN when fewer than 3 values or one side is constant."""
    if a.size < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(spearmanr(a, b).statistic)


def snr_magnitude_round(
    theta: np.ndarray,
    sigma: np.ndarray,
    mask: np.ndarray,
    prunable: np.ndarray,
    keep_next: int,
    snr_method: str = "snr",
) -> dict[str, float]:
    """ρ(SNR, |θ|) over the active prunable weights, and the global threshold each score would
    set to keep ``keep_next`` of them in the next round.

    Also why SNR can (or cannot) differ from magnitude: SNR = |θ|/σ ranks like |θ| unless σ
    varies across weights, so ``sigma_cv`` (std/mean of σ over the active prunable weights)
    says how much it varies, and ``rho_sigma_abs_theta`` (Spearman ρ of σ with |θ|) whether
    it varies with the magnitude (ρ > 0 pulls large weights down the SNR ranking).
    ``snr_method`` is the chain's SNR definition (``snr`` or the study's ``snr_study``)."""
    active = mask & prunable
    snr = pruning.scores(snr_method, theta, sigma)
    mag = pruning.scores("magnitude", theta)
    s_act = sigma[active]
    out = {
        "rho_snr_magnitude": spearman(snr[active], mag[active]),
        "sigma_cv": float(s_act.std() / s_act.mean())
        if s_act.size and s_act.mean() > 0
        else float("nan"),
        "rho_sigma_abs_theta": spearman(s_act, mag[active]),
    }
    for name, score in (("snr", snr), ("magnitude", mag)):
        keep = min(keep_next, int(active.sum()))
        out[f"threshold_{name}"] = pruning.prune_to_count(score, mask, prunable, keep).threshold
    # How many of the weights each score keeps are kept by the other too.
    keep_snr = pruning.prune_to_count(snr, mask, prunable, min(keep_next, int(active.sum())))
    keep_mag = pruning.prune_to_count(mag, mask, prunable, min(keep_next, int(active.sum())))
    both = (keep_snr.mask & keep_mag.mask & prunable).sum()
    out["overlap_kept"] = float(both / max(keep_snr.kept, 1))
    return out


def layerwise(
    theta: np.ndarray, sigma: np.ndarray | None, mask: np.ndarray, table: list[LayerEntry]
) -> dict[str, dict[str, float]]:
    """Per tensor: kept ratio, mean |θ| and mean σ over the kept entries; σ is NaN for a
    network trained by gradient descent (``sigma`` None: no search distribution)."""
    out = {}
    for e in table:
        sl = slice(e.offset, e.offset + e.size)
        m = mask[sl]
        kept = int(m.sum())
        out[e.name] = {
            "kept_ratio": kept / e.size,
            "mean_abs_theta": float(np.abs(theta[sl][m]).mean()) if kept else float("nan"),
            "mean_sigma": float(sigma[sl][m].mean())
            if kept and sigma is not None
            else float("nan"),
        }
    return out
