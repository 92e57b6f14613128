"""Exercises of notebook 01 (keys ``"01.*"``): the paper's metrics (§4)."""
from __future__ import annotations

import math

import torch

from dispkit.exercises._core import _as_tensor, _call, _exercise, _number

_METRICS = ("MPJPE", "N-MPJPE", "PA-MPJPE")


def _umeyama(P: torch.Tensor, G: torch.Tensor, proper: bool = True, scale: bool = True,
             transposed: bool = False) -> torch.Tensor:
    """Variants of the similarity Procrustes fit [N,3] -> [N,3], to recognise the usual slips (the right one is
    dispkit.metrics.procrustes_align): no reflection fix, no scale, the rotation transposed."""
    mu_p, mu_g = P.mean(0), G.mean(0)
    x, y = P - mu_p, G - mu_g
    U, S, Vh = torch.linalg.svd(y.T @ x)
    d = torch.ones(3, dtype=P.dtype)
    if proper:
        d[2] = torch.sign(torch.linalg.det(U) * torch.linalg.det(Vh))
    R = U @ torch.diag(d) @ Vh
    if transposed:
        R = R.T
    s = float((S * d).sum() / (x * x).sum()) if scale else 1.0
    return s * x @ R.T + mu_g


def _cases(g: torch.Generator):
    """(name, P, G): estimate P and ground truth G [N,3], metres."""
    def rot(angle, axis):
        a = torch.as_tensor(axis, dtype=torch.float64)
        a = a / a.norm()
        K = torch.tensor([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]], dtype=torch.float64)
        return torch.eye(3, dtype=torch.float64) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K

    G = torch.randn(24, 3, generator=g, dtype=torch.float64) * 0.3
    noise = lambda n: torch.randn(n, 3, generator=g, dtype=torch.float64) * 0.02
    yield "a rotated, scaled and shifted noisy copy", \
        0.8 * G @ rot(0.7, [1.0, 2.0, 0.5]).T + torch.tensor([0.3, -0.1, 4.0], dtype=torch.float64) + noise(24), G
    yield "a noisy mirror image (x -> -x; its best orthogonal fit is a reflection)", \
        G * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64) + noise(24), G
    G14 = torch.randn(14, 3, generator=g, dtype=torch.float64)
    yield "two unrelated point sets of 14 points", torch.randn(14, 3, generator=g, dtype=torch.float64) + 2.0, G14
    G100 = torch.randn(100, 3, generator=g, dtype=torch.float64) * 0.5
    yield "100 points, a small rotation and a larger scale", \
        1.3 * G100 @ rot(0.2, [0.0, 1.0, 0.0]).T + noise(100), G100


@_exercise("01.procrustes", "Write procrustes(P, G): the similarity transform s R P + t (R a proper rotation, "
           "det R = +1) that best maps the estimate P [N,3] onto the ground truth G [N,3] in the least-squares "
           "sense, returned as the aligned points [N,3]. Use torch.linalg.svd; do not call dispkit.metrics.",
           "centre both sets; SVD of the 3x3 matrix Σ_i (g_i - ḡ)(p_i - p̄)ᵀ = U S Vᵀ; D = diag(1, 1, sign(det U "
           "det V)); R = U D Vᵀ; s = tr(S D) / Σ_i |p_i - p̄|²; t = ḡ - s R p̄.")
def _procrustes(answer):
    from dispkit.metrics import procrustes_align

    if not callable(answer):
        return False, "pass your function itself (procrustes, not procrustes(...))."
    g = torch.Generator().manual_seed(1)
    n = 0
    for name, P, G in _cases(g):
        want = procrustes_align(P[None], G[None])[0][0]
        got = _as_tensor(_call(answer, P.clone(), G.clone()))
        if got.shape != want.shape:
            return False, f"for {len(P)} points the result must be [{len(P)}, 3] (the aligned P), got " \
                          f"{tuple(got.shape)}."
        if torch.allclose(got, want, atol=1e-5):
            n += 1
            continue
        if torch.allclose(got, _umeyama(P, G, proper=False), atol=1e-5):
            return False, f"on {name}, your R has det R = -1: it mirrors the estimate. PA-MPJPE allows a rotation " \
                          "only; flip the sign of the last singular direction (D = diag(1, 1, sign(det U det V)))."
        if torch.allclose(got, _umeyama(P, G, scale=False), atol=1e-5):
            return False, f"on {name}, the scale is missing: PA-MPJPE's similarity transform also fits s = " \
                          "tr(S D) / Σ|p_i - p̄|²."
        if torch.allclose(got, _umeyama(P, G, transposed=True), atol=1e-5):
            return False, f"on {name}, the rotation is transposed: with Σ (g - ḡ)(p - p̄)ᵀ = U S Vᵀ, R = U D Vᵀ " \
                          "maps P onto G (Vᵀ D Uᵀ would map G onto P)."
        if torch.allclose(got - got.mean(0), want - want.mean(0), atol=1e-5):
            return False, f"on {name}, the shape is right but the points sit in the wrong place: translate them to " \
                          "G's centroid (t = ḡ - s R p̄)."
        err = float(1000 * (got - want).norm(dim=-1).max())
        return False, f"on {name}, your aligned points differ from dispkit.metrics.procrustes_align by up to " \
                      f"{err:.1f} mm."
    return True, f"your procrustes matches dispkit.metrics.procrustes_align on {n} cases, the mirror image " \
                 "included: there the best orthogonal fit is a reflection, and the fix det R = +1 keeps a " \
                 "mirror-image estimate from being mirrored back for free."


def _joints(scene, body):
    """(estimate joints, GT joints) [1,24,3] float64 of ``scene`` (a Scene, or a dict with 'gt' and 'init')."""
    from dispkit.body import default_body

    body = default_body(body)
    gt, init = (scene["gt"], scene["init"]) if isinstance(scene, dict) else (scene.gt, scene.init)
    with torch.no_grad():
        return body(**init).joints.double(), body(**gt).joints.double()


def _rotate_about_root(J: torch.Tensor, degrees: float) -> torch.Tensor:
    """J [B,N,3] turned by ``degrees`` about the camera's vertical (y) axis through joint 0."""
    a = math.radians(degrees)
    R = torch.tensor([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]],
                     dtype=J.dtype)
    root = J[:, :1]
    return (J - root) @ R.T + root


def _three(P, G) -> dict:
    from dispkit.metrics import mpjpe, n_mpjpe, pa_mpjpe

    return {"MPJPE": float(mpjpe(P, G)[0]), "N-MPJPE": float(n_mpjpe(P, G)[0]), "PA-MPJPE": float(pa_mpjpe(P, G)[0])}


def _names(answer) -> set[str]:
    items = answer.replace(";", ",").split(",") if isinstance(answer, str) else list(answer)
    out = set()
    for x in items:
        if not str(x).strip():
            continue
        n = str(x).strip().upper().replace("_", "-").replace(" ", "")
        if n not in _METRICS:
            raise ValueError(f"{x!r} is not one of {', '.join(_METRICS)}")
        out.add(n)
    return out


@_exercise("01.rotation", "Turn the regressor's estimate by 20° about the camera's vertical axis through its root. "
           "Which of MPJPE, N-MPJPE and PA-MPJPE change? Answer a list of names, e.g. ['MPJPE'] (pass the scene: "
           "check(..., answer, scene=scene, body=body)).",
           "root alignment removes a translation only; the optimal scale s* stretches the estimate but cannot turn "
           "it; Procrustes fits a rotation as well.")
def _rotation(answer, scene=None, body=None):
    if scene is None:
        return False, "pass the scene too: check('01.rotation', answer, scene=scene, body=body)."
    got = _names(answer)
    P, G = _joints(scene, body)
    before, after = _three(P, G), _three(_rotate_about_root(P, 20.0), G)
    changed = {k for k in _METRICS if abs(after[k] - before[k]) > 0.05}
    table = "; ".join(f"{k} {before[k]:.1f} -> {after[k]:.1f} mm" for k in _METRICS)
    if got == changed:
        return True, f"{table}. Root alignment and the scale s* cannot undo a rotation, Procrustes can: " \
                     "PA-MPJPE does not see a wrong global orientation at all; MPJPE does, and N-MPJPE is not " \
                     "even guaranteed to stay below MPJPE (s* minimises the squared error, not the mean distance)."
    if "PA-MPJPE" in got:
        return False, f"{table}: PA-MPJPE does not move. Procrustes fits the best rotation, so any extra global " \
                      "rotation of the estimate is absorbed."
    if "N-MPJPE" not in got:
        return False, f"{table}: N-MPJPE changes too. Its scale s* can shrink or stretch the estimate about the " \
                      "root, not turn it."
    return False, f"{table}: MPJPE changes — it compares root-aligned joints, and a rotation moves every joint " \
                  "that is not the root."


@_exercise("01.depth_shift", "Move the regressor's estimate 0.3 m farther from the camera (add 0.3 to the z of every "
           "joint and vertex). Predict its MPJPE in mm, knowing the unshifted MPJPE printed above (pass the scene: "
           "check(..., answer, scene=scene, body=body)).",
           "MPJPE is computed after subtracting each skeleton's root joint.")
def _depth_shift(answer, scene=None, body=None):
    from dispkit.metrics import mpjpe

    if scene is None:
        return False, "pass the scene too: check('01.depth_shift', answer, scene=scene, body=body)."
    a = _number(answer)
    P, G = _joints(scene, body)
    before = float(mpjpe(P, G)[0])
    after = float(mpjpe(P + torch.tensor([0.0, 0.0, 0.3], dtype=P.dtype), G)[0])
    raw = float(mpjpe(P + torch.tensor([0.0, 0.0, 0.3], dtype=P.dtype), G, root=None)[0])
    if math.isfinite(a) and abs(a - after) <= max(1.0, 0.02 * after):
        return True, f"{after:.1f} mm, the same as before the shift ({before:.1f} mm): both skeletons are moved to " \
                     "their root before they are compared, so a pure translation — the person's distance from " \
                     f"the camera — is invisible to MPJPE (without root alignment it would be {raw:.1f} mm). The " \
                     "paper's metrics measure the body's pose and shape, not where it stands."
    if abs(a - (before + 300)) < 30 or abs(a - 300) < 30:
        return False, "you added the 300 mm shift to the error. MPJPE subtracts the root joint of each skeleton " \
                      "first: what does that do to a shift that moves every joint alike?"
    if abs(a - raw) < max(5.0, 0.02 * raw):
        return False, f"that is the error without root alignment ({raw:.1f} mm here, the regressor's own depth " \
                      "error included). MPJPE subtracts the root joint of each skeleton first."
    return False, f"{a:g} mm is not what dispkit.metrics.mpjpe gives for the shifted estimate."
