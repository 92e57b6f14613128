"""Exercises of notebook 07 (keys ``"07.*"``)."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _close, _exercise, _number


@_exercise("07.gmof", "Geman-McClure with σ = 100: ρ(r) = σ² r² / (σ² + r²). What is ρ at r = σ, and what is the "
           "largest value ρ can take? Answer both as a pair (rho_at_sigma, rho_max).",
           "put r = σ into the formula; for r -> infinity, r² / (σ² + r²) -> 1.")
def _gmof(answer):
    from dispkit.terms import gmof

    at, top = (_number(x) for x in answer)
    want_at = float(gmof(torch.tensor(100.0), 100.0))
    if not _close(at, want_at, rel=1e-3):
        return False, f"ρ(σ) = σ⁴ / 2σ² = σ² / 2 = {want_at:g}, not {at:g}."
    if not _close(top, 100.0 ** 2, rel=1e-3):
        return False, f"ρ(σ) is right; the limit for large r is σ² = 10000, not {top:g}."
    return True, "σ²/2 and σ²: a residual beyond a few σ costs almost the same as one at σ, so a swapped keypoint " \
                 "or a wrong displacement pulls on the body with a force that vanishes (dρ/dr -> 0) instead of " \
                 "growing like r (squared error)."


@_exercise("07.balance", "At the initial estimate the keypoint term's unweighted loss is 2.0e4 and the dense term's "
           "is 5.0e5 (it sums over ~1000 vertices). With the keypoint weight 5.0, which dense weight makes the two "
           "weighted terms equal?",
           "solve w · 5.0e5 = 5.0 · 2.0e4.")
def _balance(answer):
    a = _number(answer)
    want = 5.0 * 2.0e4 / 5.0e5
    if _close(a, want, rel=0.01):
        return True, f"{want:g}: the same order as §4.1's 0.4. The dense term is not weaker per target; it is " \
                     "summed over many more targets, so its multiplier is smaller."
    if _close(a, 1 / want, rel=0.01):
        return False, "inverted: the dense loss is the larger one, its weight must be below 1."
    return False, f"{a:g} · 5.0e5 is not 5.0 · 2.0e4."


