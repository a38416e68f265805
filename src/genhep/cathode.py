"""Building blocks of the CATHODE anomaly search (Hallin et al., arXiv 2109.00546).

CATHODE learns the background density p(x | mjj) in the sidebands (SB), interpolates it
into the signal region (SR) by sampling mjj there, and trains a classifier to tell SR
data from that background template; where the data hold a signal, the classifier finds
what the template lacks. This module holds the pieces that do not depend on the density
estimator: the regions, the SR mjj sampler, and the figures of merit.

Figures of merit, for a classifier score with signal = 1 and background = 0:

    TPR = ε_S (signal efficiency),  FPR = ε_B (background efficiency),
    SIC = ε_S / √ε_B   (the gain in significance S/√B from cutting on the score),
    rejection = 1 / ε_B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import gaussian_kde
from sklearn.metrics import roc_curve

from genhep.errors import GenhepError


@dataclass(frozen=True)
class Regions:
    """Signal region [sr_low, sr_high) and the sidebands around it within [low, high)."""

    sr_low: float = 3.3
    sr_high: float = 3.7
    low: float = 0.0
    high: float = float("inf")

    def __post_init__(self):
        if not self.low <= self.sr_low < self.sr_high <= self.high:
            raise GenhepError(
                f"config key cathode.regions: need low <= sr_low < sr_high <= high, got "
                f"{self.low} <= {self.sr_low} < {self.sr_high} <= {self.high}"
            )

    def signal_region(self, mjj: np.ndarray) -> np.ndarray:
        return (mjj >= self.sr_low) & (mjj < self.sr_high)

    def sidebands(self, mjj: np.ndarray) -> np.ndarray:
        inside = (mjj >= self.low) & (mjj < self.high)
        return inside & ~self.signal_region(mjj)


class SignalRegionMjj:
    """A Gaussian KDE of the SR data's mjj, sampled only inside the SR.

    CATHODE draws the conditioning mjj of its background template from such a KDE: the
    template then follows the SR's mjj spectrum, which the SB model cannot know.
    A plain KDE leaks density across the SR edges, depleting the events just inside
    them (measured: KS p ~ 1e-6 at the lower edge on 50k events). Draws that the kernel
    smears outside are reflected back in: sampling from the reflection KDE, which has
    no first-order boundary bias.
    """

    def __init__(self, mjj_sr: np.ndarray, regions: Regions, bandwidth: float | str = "scott"):
        mjj_sr = np.asarray(mjj_sr, dtype=np.float64)
        if len(mjj_sr) < 2:
            raise GenhepError(f"signal region has {len(mjj_sr)} events: too few for a KDE")
        self.regions = regions
        self.kde = gaussian_kde(mjj_sr, bw_method=bandwidth)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        lo, hi = self.regions.sr_low, self.regions.sr_high
        x = self.kde.resample(n, seed=rng)[0]
        while True:  # fold at both edges until inside (twice at most unless h ≳ SR width)
            below, above = x < lo, x > hi
            if not (below.any() or above.any()):
                return np.minimum(x, np.nextafter(hi, lo))  # the SR is [lo, hi)
            x = np.where(below, 2 * lo - x, np.where(above, 2 * hi - x, x))


@dataclass
class SicCurve:
    tpr: np.ndarray
    fpr: np.ndarray

    @property
    def sic(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.fpr > 0, self.tpr / np.sqrt(self.fpr), np.nan)

    @property
    def rejection(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.where(self.fpr > 0, 1.0 / self.fpr, np.inf)


def sic_curve(labels: np.ndarray, scores: np.ndarray) -> SicCurve:
    """TPR and FPR at every threshold of the score (labels: 1 signal, 0 background)."""
    labels = np.asarray(labels)
    if labels.min() == labels.max():
        raise GenhepError("a SIC curve needs both signal (1) and background (0) test events")
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)  # every working point
    return SicCurve(tpr=tpr, fpr=fpr)


def max_sic(curve: SicCurve, n_background: int, min_background: int = 50) -> tuple[float, float]:
    """Maximum SIC over working points that keep at least ``min_background`` background
    test events, and that FPR floor (min_background / n_background).

    Below the floor the FPR is estimated from a handful of events and SIC fluctuates
    upwards without meaning; the floor is set by the test statistics, and reported.
    """
    floor = min_background / n_background
    usable = curve.fpr >= floor
    if not usable.any():
        raise GenhepError(f"no working point with FPR >= {floor:.3g} ({n_background} background)")
    return float(np.nanmax(curve.sic[usable])), floor
