"""The bump hunt that ends a search: cut on the anomaly score, fit the mjj spectrum outside
the signal region (SR), and compare the SR count with the fit's prediction.

Background model: the dijet function (CMS, PRL 105 (2010) 211801; ATLAS, PRD 96 (2017)
052004; the LHCO bump hunts, Kasieczka et al., arXiv:2101.08320)
    f(x) = p0 (1 − x)^p1 / x^(p2 + p3 ln x),   x = mjj / √s,
a density in x: a bin's expected count is μ = ∫ f dx over it (Gauss–Legendre; the value
at the bin centre × width biases a steep spectrum). Minuit fits the same function about a
pivot (``PivotDijet``), whose parameters are far less correlated, by a binned extended
Poisson likelihood (``iminuit.cost.ExtendedBinnedNLL``) with the SR bins masked: p3 = 0
first, from a linearised start (others if it fails), then p3 free. χ² is the cost's value,
the Poisson deviance 2 Σ (μ − n + n ln(n/μ)) over the fitted bins (Baker & Cousins,
NIM 221 (1984) 437), ndf = fitted bins − free parameters.

SR background: b = Σ_SR μ; σ_b² = gᵀ C g (linear error propagation), g = ∂b/∂a analytic,
C the inverse expected Fisher information Σ_fitted ∂μ ∂μᵀ / μ: Minuit's numerical Hessian
(condition ~1e6) was forced positive in ~40% of toys, its σ_b off by 0.9–2.3×; this C
matches the spread of b over toys. The SR count's significance: ``local_significance``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from iminuit import Minuit
from iminuit.cost import ExtendedBinnedNLL
from scipy.special import xlogy

from genhep.errors import GenhepError

NAMES = ("a0", "a1", "a2", "a3")
FIT_FIELDS = ("b", "sigma_b", "excess", "z", "chi2", "ndf", "valid", "n_params")
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(8)  # per bin: exact enough for f


def dijet(x, p0, p1, p2, p3):
    """The dijet function f(x) = p0 (1 − x)^p1 / x^(p2 + p3 ln x): events per unit x."""
    x = np.asarray(x, dtype=np.float64)
    lnx = np.log(x)
    return p0 * np.exp(p1 * np.log1p(-x) - (p2 + p3 * lnx) * lnx)


@dataclass(frozen=True)
class PivotDijet:
    """The same function written around a pivot x0 of the fit range, the form Minuit fits:

        ln f = a0 + a1 ln((1 − x)/(1 − x0)) − (a2 + a3 u) u,   u = ln(x/x0),

    i.e. p1 = a1, p3 = a3, p2 = a2 − 2 a3 ln x0, ln p0 = a0 − a1 ln(1 − x0) + a2 ln x0
    − a3 ln² x0. a0 is the log density at x0, so the normalisation no longer drags
    p2 and p3 with it (p0..p3 are correlated to 1 − 1e-6 over a typical range)."""

    x0: float

    def dlnf(self, x: np.ndarray) -> list[np.ndarray]:
        """∂ ln f / ∂a: f is linear in these in the log, so also the fit's features."""
        u = np.log(x / self.x0)
        return [np.ones_like(x), np.log1p(-x) - np.log1p(-self.x0), -u, -u * u]

    def bins(self, xe: np.ndarray, a: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Each bin's expected count ∫ f dx (Gauss–Legendre, 8 nodes) and its gradient
        in a, shape (4, bins)."""
        half = 0.5 * np.diff(xe)[:, None]
        x = 0.5 * (xe[1:] + xe[:-1])[:, None] + half * _NODES
        dlnf = self.dlnf(x)
        wf = half * _WEIGHTS * np.exp(sum(ai * d for ai, d in zip(a, dlnf, strict=True)))
        return wf.sum(axis=1), np.array([(wf * d).sum(axis=1) for d in dlnf])

    def standard(self, a: Sequence[float]) -> dict[str, float]:
        """p0..p3 of ``dijet`` for the fitted a."""
        c, k = np.log(self.x0), np.log1p(-self.x0)
        with np.errstate(over="ignore"):  # inf for a wild fit of a handful of events
            p0 = np.exp(a[0] - a[1] * k + a[2] * c - a[3] * c * c)
        return {"p0": float(p0), "p1": a[1], "p2": a[2] - 2 * a[3] * c, "p3": a[3]}


@dataclass
class BackgroundFit:
    """A sideband fit and its SR prediction b ± σ_b (counts; mjj in TeV, x = mjj/√s)."""

    params: dict[str, float]  # p0..p3 of ``dijet``
    covariance: np.ndarray  # of PivotDijet's a0..a3; zero row and column for a fixed a3
    edges: np.ndarray  # mjj bin edges, TeV
    counts: np.ndarray  # events (sum of weights) per bin
    fitted: np.ndarray  # bool per bin: outside the SR (and the excluded interval), fitted
    signal_region: np.ndarray  # bool per bin: in the SR, predicted
    expected: np.ndarray  # the fit's count per bin, SR bins included
    n_obs: float  # events (sum of weights) in the SR
    b: float
    sigma_b: float
    chi2: float  # Poisson deviance over the fitted bins
    ndf: int
    valid: bool  # Migrad converged (EDM below goal, call limit not hit), σ_b finite
    n_params: int
    note: str = ""


def _linear_start(model, xe, n, fitted):
    """a0..a2 (a3 = 0) from least squares of ln(n/Δx) on the features, weights n."""
    x = 0.5 * (xe[1:] + xe[:-1])
    use = fitted & (n > 0)
    cols = np.column_stack(model.dlnf(x[use])[:3]) * np.sqrt(n[use])[:, None]
    y = np.log(n[use] / np.diff(xe)[use]) * np.sqrt(n[use])
    return [*map(float, np.linalg.lstsq(cols, y, rcond=None)[0]), 0.0]


def _migrad(cost, start, fix_a3):
    m = Minuit(cost, *start, name=NAMES)
    m.fixed["a3"] = fix_a3
    try:
        m.migrad()
    except (RuntimeError, FloatingPointError):  # a start far off can overflow exp()
        return None
    return m


def _fit_minuit(model, cost, xe, n, fitted, n_params) -> tuple[Minuit, str]:
    """The 3-parameter fit (a3 = p3 = 0) from a few starts, the valid one of lowest
    deviance kept; then a3 released for n_params = 4. A failed 4-parameter fit falls back
    to the 3-parameter one, and says so."""
    linear = _linear_start(model, xe, n, fitted)  # a0: the log density at the pivot
    starts = [linear] + [[linear[0], a1, a2, 0.0] for a1, a2 in ((10, 5), (5, 3), (20, 6))]
    fits = []
    for a in starts:  # the linearised start nearly always converges: others if it fails
        fits += [m for m in [_migrad(cost, a, True)] if m is not None]
        if fits and fits[-1].valid:
            break
    if not fits:
        raise GenhepError("the dijet fit failed from every start")
    m3 = min(fits, key=lambda m: (not m.valid, m.fval))
    if n_params == 3:
        return m3, ""
    m4 = _migrad(cost, list(m3.values), False)
    if m4 is not None and (m4.valid or not m3.valid):
        return m4, ""
    return m3, "the 4-parameter fit is invalid: the valid 3-parameter fit is used"


def _covariance(grad, mu, scale, free) -> np.ndarray:
    """Inverse of the expected Fisher information Σ s ∂μ ∂μᵀ / μ over the fitted bins
    (s: the Bohm–Zech scale of weighted bins, 1 for counts)."""
    g = grad[free]
    cov = np.zeros((4, 4))
    cov[np.ix_(free, free)] = np.linalg.pinv((g * (scale / mu)) @ g.T)
    return cov


def fit_sidebands(
    mjj: np.ndarray,
    edges: np.ndarray,
    sr: tuple[float, float],
    sqrt_s: float = 13.0,
    weights: np.ndarray | None = None,
    n_params: int = 4,
    excluded: tuple[float, float] | None = None,
) -> BackgroundFit:
    """Fit the dijet function to the mjj histogram (``edges``, TeV) outside the SR
    [lo, hi), whose bounds must be bin edges; predict the SR's background b ± σ_b.
    ``excluded``: an interval around the SR where the events given are not the
    spectrum's (CWoLa's short sidebands, held out of ``sb_holdout``): a bin that overlaps
    it is neither fitted nor predicted."""
    edges, (lo, hi) = np.array(edges, dtype=np.float64), sr
    i_lo, i_hi = (int(np.argmin(np.abs(edges - v))) for v in (lo, hi))
    if not (np.isclose(edges[i_lo], lo) and np.isclose(edges[i_hi], hi) and i_lo < i_hi):
        raise GenhepError(f"the SR bounds [{lo}, {hi}) must be bin edges of the mjj histogram")
    edges[[i_lo, i_hi]] = lo, hi  # exactly: the SR count is n(lo <= mjj < hi)
    if n_params not in (3, 4):
        raise GenhepError(f"n_params must be 3 or 4, got {n_params}")
    counts, _ = np.histogram(mjj, edges, weights=weights)
    data, scale = counts, np.ones_like(counts, dtype=np.float64)
    if weights is not None:  # sums of weights and of squared weights: Bohm–Zech scaling
        w2, _ = np.histogram(mjj, edges, weights=np.asarray(weights) ** 2)
        data = np.column_stack([counts, w2])
        scale = np.divide(counts, w2, out=scale, where=w2 > 0)
    signal_region = np.zeros(len(counts), dtype=bool)
    signal_region[i_lo:i_hi] = True
    fitted = ~signal_region
    if excluded is not None:
        outside = (edges[1:] <= excluded[0] + 1e-9) | (edges[:-1] >= excluded[1] - 1e-9)
        fitted &= outside
    if fitted.sum() <= n_params:
        raise GenhepError(f"{fitted.sum()} mjj bins outside the SR: too few for the dijet fit")
    xe = edges / sqrt_s
    model = PivotDijet(x0=float(np.sqrt(xe[0] * xe[-1])))

    def scaled_cdf(xe, a0, a1, a2, a3):  # the expected count below each edge
        return np.concatenate([[0.0], np.cumsum(model.bins(xe, (a0, a1, a2, a3))[0])])

    def scaled_cdf_grad(xe, a0, a1, a2, a3):
        return np.pad(np.cumsum(model.bins(xe, (a0, a1, a2, a3))[1], axis=1), ((0, 0), (1, 0)))

    cost = ExtendedBinnedNLL(data, xe, scaled_cdf, grad=scaled_cdf_grad)
    cost.mask = fitted
    m, note = _fit_minuit(model, cost, xe, counts, fitted, n_params)
    a = np.array(m.values)
    expected, grad = model.bins(xe, a)
    free = np.array([True, True, True, not m.fixed["a3"]])
    cov = _covariance(grad[:, fitted], expected[fitted], scale[fitted], free)
    g_b = grad[:, signal_region].sum(axis=1)
    sigma_b = float(np.sqrt(max(g_b @ cov @ g_b, 0.0)))
    return BackgroundFit(
        params=model.standard([float(v) for v in a]),
        covariance=cov,
        edges=edges,
        counts=counts,
        fitted=fitted,
        signal_region=signal_region,
        expected=expected,
        n_obs=float(counts[signal_region].sum()),
        b=float(expected[signal_region].sum()),
        sigma_b=sigma_b,
        chi2=float(m.fval),
        ndf=int(fitted.sum() - free.sum()),
        valid=bool(m.valid and np.isfinite(sigma_b)),
        n_params=int(free.sum()),
        note=note,
    )


def local_significance(n_obs: float, b: float, sigma_b: float = 0.0) -> float:
    """Signed significance of n_obs over a background b known to ±σ_b (σ = σ_b):

        Z² = 2 [ n ln( n (b + σ²) / (b² + n σ²) ) − (b²/σ²) ln(1 + σ² (n − b) / (b (b + σ²))) ]

    Z = sign(n − b) √Z²: negative for a deficit. At σ = 0, Z² = 2 (n ln(n/b) − n + b).
    It is the profile likelihood ratio q0 of n ~ Pois(s + b) with b constrained by an
    auxiliary count m ~ Pois(τ b), τ = b/σ², at its expectation (Cowan, Cranmer, Gross &
    Vitells, EPJC 71 (2011) 1554, arXiv:1007.1727), in the closed form of G. Cowan,
    "Discovery sensitivity for a counting experiment with background uncertainty" (2012),
    with the observed n in place of the Asimov s + b; ŝ = n − b may be negative.
    """
    n, b, s2 = float(n_obs), float(b), float(sigma_b) ** 2
    if b <= 0 or n < 0:
        raise GenhepError(f"local significance needs n >= 0, b > 0, got n = {n}, b = {b}")
    if s2 <= 1e-12 * b:  # the limit σ → 0, without 0/0
        q = 2.0 * (xlogy(n, n / b) - n + b)
    else:
        first = xlogy(n, n * (b + s2) / (b * b + n * s2))
        second = (b * b / s2) * np.log1p(s2 * (n - b) / (b * (b + s2)))
        q = 2.0 * (first - second)
    return float(np.sign(n - b) * np.sqrt(max(q, 0.0)))


def simple_significance(s: float, b: float) -> float:
    """S/√B: the significance without a fit or a cut (b > 0)."""
    if b <= 0:
        raise GenhepError(f"S/√B needs b > 0, got {b}")
    return float(s / np.sqrt(b))


def default_edges(mjj: np.ndarray, sr: tuple[float, float], bins_per_sr: int = 4) -> np.ndarray:
    """Bins of width (hi − lo)/bins_per_sr with the SR bounds on edges, over whole bins
    inside the data's range (a bin only partly above a threshold would bias the fit)."""
    w = (sr[1] - sr[0]) / bins_per_sr
    below = np.floor((sr[0] - np.min(mjj)) / w + 1e-3)
    above = np.floor((np.max(mjj) - sr[1]) / w + 1e-3)
    return sr[0] + w * np.arange(-below, bins_per_sr + above + 1)


def bump_hunt(
    mjj: np.ndarray,
    scores: np.ndarray,
    sr: tuple[float, float],
    background_efficiencies: Sequence[float] = (1.0, 0.1, 0.01),
    edges: np.ndarray | None = None,
    *,
    sqrt_s: float = 13.0,
    labels: np.ndarray | None = None,
    min_events: int = 50,
    n_params: int = 4,
    excluded: tuple[float, float] | None = None,
    sr_fraction: float = 1.0,
) -> list[dict]:
    """One row per background efficiency ε: keep score ≥ the (1 − ε) quantile of the
    SIDEBAND scores (a real search calibrates its cut outside the SR, assumed free of
    signal; ε = 1 keeps every event), fit the kept events' mjj outside the SR, compare the
    SR count n_obs with b ± σ_b. ``labels`` (1 = signal), where known, add the true S and
    B in the SR after the cut and S/√B. ``scores``: every event's, SR and sidebands (the
    SR-trained classifier applied to held-out sideband events too). A cut leaving fewer
    than ``min_events`` outside the SR is not fitted: ``reason`` says why, fit fields None.

    ``excluded``: as ``fit_sidebands``'s. ``sr_fraction``: the SR events given are a random
    share of the SR's (the classifiers' check slice: events no run trained on), the
    sideband events all of theirs; the fitted SR background and its error are scaled by
    it, to predict the count of the events given."""
    if not 0 < sr_fraction <= 1:
        raise GenhepError(f"sr_fraction {sr_fraction}: must be in (0, 1]")
    mjj, scores = np.asarray(mjj, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    edges = default_edges(mjj, sr) if edges is None else np.asarray(edges, dtype=np.float64)
    in_sr = (mjj >= sr[0]) & (mjj < sr[1])
    sideband = (mjj >= edges[0]) & (mjj < edges[-1]) & ~in_sr
    if not sideband.any():
        raise GenhepError(f"no events in the mjj range [{edges[0]}, {edges[-1]}) outside the SR")
    rows = []
    for eff in background_efficiencies:
        if not 0 < eff <= 1:
            raise GenhepError(f"background efficiency {eff}: must be in (0, 1]")
        threshold = -np.inf if eff == 1 else float(np.quantile(scores[sideband], 1 - eff))
        passed = scores >= threshold
        row = {"efficiency": float(eff), "threshold": float(threshold)}
        row.update(n_sideband=int((passed & sideband).sum()), n_obs=int((passed & in_sr).sum()))
        if labels is not None:
            s, b_true = (int((passed & in_sr & (labels == k)).sum()) for k in (1, 0))
            z_simple = simple_significance(s, b_true) if b_true > 0 else None
            row.update(s_true=s, b_true=b_true, z_simple=z_simple)
        row.update(dict.fromkeys(FIT_FIELDS), reason=None)
        if row["n_sideband"] < min_events:
            row["reason"] = f"{row['n_sideband']} events outside the SR (< {min_events})"
        else:
            fit = fit_sidebands(
                mjj[passed], edges, sr, sqrt_s, n_params=n_params, excluded=excluded
            )
            b, sigma_b = sr_fraction * fit.b, sr_fraction * fit.sigma_b
            z = local_significance(row["n_obs"], b, sigma_b)
            row.update(b=b, sigma_b=sigma_b, excess=row["n_obs"] - b, z=z)
            row.update(chi2=fit.chi2, ndf=fit.ndf, valid=fit.valid, n_params=fit.n_params)
            row["reason"] = fit.note or None
        rows.append(row)
    return rows
