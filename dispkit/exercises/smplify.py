"""Exercises of notebook 07 (keys ``"07.*"``): the Geman-McClure error written by the student, and two experiments
on the fit (predict, then run): a smaller σ on noisy keypoints, and weight 1 for the invisible vertices."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _as_tensor, _call, _exercise, _name


@_exercise("07.gmof", "Write gmof(r, sigma): the Geman-McClure error of Eq. 7, ρ(r) = σ² r² / (σ² + r²), "
           "elementwise on a tensor of residuals r (any shape, pixels), differentiable with autograd.",
           "r2 = r ** 2; return sigma ** 2 * r2 / (sigma ** 2 + r2)")
def _gmof(answer):
    from dispkit.terms import gmof

    if not callable(answer):
        return False, "pass your function itself."
    g = torch.Generator().manual_seed(7)
    for sigma in (100.0, 10.0, 3.5):
        r = torch.cat([torch.randn(40, 2, generator=g, dtype=torch.float64) * sigma * 3,
                       torch.tensor([[0.0, -0.0], [sigma, -sigma], [1e4 * sigma, -1e3 * sigma]],
                                    dtype=torch.float64)])
        r.requires_grad_(True)
        got = _call(answer, r, sigma)
        got_t = _as_tensor(got)
        if got_t.shape != r.shape:
            return False, f"ρ is elementwise: for r of shape {tuple(r.shape)} return the same shape, got " \
                          f"{tuple(got_t.shape)} (SMPLify applies ρ to x and y separately and sums afterwards)."
        want = gmof(r.detach(), sigma)
        if torch.allclose(got_t, want, rtol=1e-6, atol=1e-9):
            if not (isinstance(got, torch.Tensor) and got.requires_grad):
                return False, "the values are right, but the result carries no gradient: the fit differentiates ρ " \
                              "with autograd, so compute it with torch operations on r (no .item(), numpy or " \
                              "float())."
            grad, = torch.autograd.grad(got.sum(), r)
            pull = 2 * sigma ** 4 * r.detach() / (sigma ** 2 + r.detach() ** 2) ** 2
            if not torch.allclose(grad, pull, rtol=1e-5, atol=1e-9):
                return False, "the values are right but the gradient is not ρ′(r) = 2σ⁴r / (σ² + r²)²: is part of " \
                              "the formula detached?"
            continue
        r0 = r.detach()
        if torch.allclose(got_t, sigma * r0 ** 2 / (sigma + r0 ** 2), rtol=1e-6):
            return False, "σ must appear squared in both places: ρ(r) = σ² r² / (σ² + r²) (σ has the unit of r)."
        if torch.allclose(got_t, r0 ** 2 / (sigma ** 2 + r0 ** 2), rtol=1e-6):
            return False, "the factor σ² in front is missing: without it ρ flattens at 1 instead of σ², and for " \
                          "small residuals it is r²/σ² instead of r², which rescales every data weight."
        if torch.allclose(got_t, r0 ** 2, rtol=1e-6):
            return False, "that is the squared error: ρ must stop growing for large residuals (it tends to σ²)."
        return False, f"with σ = {sigma:g}, ρ({float(r0[0, 0]):.3g}) should be {float(want[0, 0]):.6g}, your " \
                      f"function gives {float(got_t[0, 0]):.6g}."
    return True, "your ρ matches dispkit.terms.gmof (values and gradients, three values of σ). Near 0 it is r², " \
                 "at r = σ it is σ²/2, and it tends to σ² for large r: its pull ρ′ peaks at σ/√3 and fades like " \
                 "2σ⁴/r³ beyond, so a target far off pulls weakly."


def _mpjpe(result, batch) -> float:
    from dispkit.metrics import evaluate

    return float(evaluate(result.vertices, batch.go.vertices, result.joints, batch.go.joints)["MPJPE"])


def _direction(answer, first=("better", "lower", "less", "improves"), second=("worse", "higher", "more")):
    """``first[0]``, ``second[0]`` or None: the student's word mapped onto the exercise's two outcomes."""
    a = _name(answer)
    if a in first:
        return first[0]
    if a in second:
        return second[0]
    return None


@_exercise("07.sigma", "SMPLify with the simulated OpenPose keypoints: with σ = 10 (224-crop pixels) instead of "
           "SMPLify's 100, will the fit's MPJPE be better (lower) or worse (higher)? Write 'better' or 'worse', "
           "then run the cell: it fits the same detections with σ = 10 (sigma_10) beside the fit with σ = 100 "
           "(sigma_100) and passes both with the batch.",
           "σ = 10 caps every keypoint's pull beyond a few pixels: outliers and swapped limbs lose their grip, but "
           "so do correct keypoints that the initial estimate misses by more than σ, and the GMM prior then has "
           "more say.")
def _sigma(answer, sigma_10=None, sigma_100=None, batch=None):
    d = _direction(answer)
    if d is None:
        return False, f"answer 'better' or 'worse', not {answer!r}."
    if sigma_10 is None or sigma_100 is None or batch is None:
        return False, "pass the two fits and the batch: check('07.sigma', answer, sigma_10=..., sigma_100=..., " \
                      "batch=batch), as the exercise cell does."
    m10, m100 = _mpjpe(sigma_10, batch), _mpjpe(sigma_100, batch)
    init = float(_mpjpe_init(batch))
    what = "better" if m10 < m100 else "worse"
    told = f"MPJPE {m10:.1f} mm with σ = 10 vs {m100:.1f} mm with σ = 100 (initial estimate {init:.1f} mm). "
    if what == "better":
        why = "Here the robustness won: with σ = 10 a keypoint off by more than a few crop pixels pulls little " \
              "(ρ′ peaks at σ/√3), so the simulated detector's outliers and left/right swaps, which keep a high " \
              "confidence, bend the limbs less; σ = 100 is nearly quadratic over most of these residuals and " \
              "follows them. The correct keypoints lost pull too, but on this scene that cost less."
    else:
        why = "Here the loss of pull won: with σ = 10 every keypoint that the current body misses by more than a " \
              "few crop pixels pulls weakly (ρ′ peaks at σ/√3 and fades like 2σ⁴/r³), correct ones included, so " \
              "the data term hardly moves the body and the GMM prior has more say; σ = 100 keeps the pull of " \
              "the many correct keypoints."
    if d == what:
        return True, told + why
    return False, f"measured the other way: {told}{why}"


def _mpjpe_init(batch) -> float:
    from dispkit.metrics import evaluate

    return float(evaluate(batch.io.vertices, batch.go.vertices, batch.io.joints, batch.go.joints)["MPJPE"])


@_exercise("07.invisible", "Eq. 7 weighs each vertex with w_i = 1 if the initial mesh's rendering shows it, else 0. "
           "Give every vertex weight 1 (GT dense targets, GMM): will the MPJPE be 'higher' or 'lower' than with "
           "w_i? Write your prediction, then run the cell: it fits with all vertices (all_vertices) beside the "
           "fit with w_i (visible_only) and passes both with the batch.",
           "an invisible vertex has no pixel, so Eq. 5 gives it no displacement: what target does Eq. 6 give it?")
def _invisible(answer, all_vertices=None, visible_only=None, batch=None, n_visible=None):
    d = _direction(answer, first=("higher", "worse", "more"), second=("lower", "better", "less"))
    if d is None:
        return False, f"answer 'higher' or 'lower', not {answer!r}."
    if all_vertices is None or visible_only is None or batch is None:
        return False, "pass the two fits and the batch: check('07.invisible', answer, all_vertices=..., " \
                      "visible_only=..., batch=batch), as the exercise cell does."
    m_all, m_vis = _mpjpe(all_vertices, batch), _mpjpe(visible_only, batch)
    init = _mpjpe_init(batch)
    what = "higher" if m_all > m_vis else "lower"
    V = int(batch.io.vertices.shape[1])
    counts = f" ({n_visible} of {V} vertices are visible)" if n_visible is not None else ""
    told = f"MPJPE {m_all:.1f} mm with every vertex weighted vs {m_vis:.1f} mm with w_i (initial estimate " \
           f"{init:.1f} mm){counts}. "
    why = "No pixel shows an invisible vertex, so Eq. 5 gives it no displacement and Eq. 6 sets its target to its " \
          "own initial projection π(M(θ, β))_i: with weight 1 the hidden vertices, most of the mesh, pull the " \
          "body back towards the initial estimate, against the visible evidence. w_i = 0 keeps only targets that " \
          "carry information."
    if what == "lower":
        why = "Unusually, the anchored fit came out lower here: " + why + " On this scene holding the hidden side " \
              "at the initial estimate happened to help (a poorly constrained limb stayed put)."
    if d == what:
        return True, told + why
    return False, f"measured the other way: {told}{why}"
