"""Exercises of notebook 06 (keys ``"06.*"``)."""
from __future__ import annotations

import math

import torch

from dispkit.exercises._core import _as_tensor, _call, _exercise, _NoAnswer, _number, _random_maps


def _random_case(seed: int):
    """A random mesh's maps, a random field on its foreground pixels and the package's Eq. 5 of it."""
    from dispkit.displacement import pixels_to_vertices

    V, faces, face_index, bary, g = _random_maps(seed)
    field = torch.randn(*face_index.shape, 2, generator=g, dtype=torch.float64) * 3
    field[face_index < 0] = 0
    want, vis = pixels_to_vertices(field[None], face_index[None], bary[None], faces, V)
    return V, faces, face_index, bary, field, want, vis


@_exercise("06.eq5_vertex", "Write eq5_vertex(field, face_index, bary, faces, i): Eq. 5 for vertex i, from a "
           "field [H,W,2], the maps face_index [H,W] (-1 on background) and bary [H,W,3] and faces [F,3]. Return "
           "the 2-vector, or None when no pixel sees the vertex.",
           "loop over the foreground pixels; where vertex i is corner k of the visible triangle, add bary[y, x, k] "
           "* field[y, x] to a sum and bary[y, x, k] to a weight; the answer is sum / weight.")
def _eq5_vertex(answer):

    if not callable(answer):
        return False, "pass your function itself."
    for seed in range(3):
        V, faces, face_index, bary, field, want, vis = _random_case(seed)
        fg = face_index >= 0
        weight = torch.zeros(V, dtype=torch.float64).index_add_(0, faces[face_index[fg]].reshape(-1),
                                                                bary[fg].reshape(-1))  # Σ b per vertex
        best = int(weight.argmax())
        if answer(field.clone(), face_index.clone(), bary.clone(), faces.clone(), best) is None:
            raise _NoAnswer  # None for the vertex that pixels see most: a stub
        for i in range(V):
            got = answer(field.clone(), face_index.clone(), bary.clone(), faces.clone(), i)
            if not bool(vis[0, i]):
                zero = torch.zeros(2, dtype=torch.float64)
                if got is not None and not torch.allclose(_as_tensor(got).reshape(-1), zero):
                    return False, f"vertex {i} is in no visible triangle: it gets no value (None), not {got}."
                continue
            if got is None:
                return False, f"vertex {i} is seen by some pixels (its accumulated weight Σb = " \
                              f"{float(weight[i]):.3g} exceeds pixels_to_vertices' threshold 1e-6), but your " \
                              "function returned None: return None only where Σb <= 1e-6."
            got = _as_tensor(got).reshape(-1)
            if torch.allclose(got, want[0, i], atol=1e-6):
                continue
            m = face_index >= 0
            hit = m.clone()
            hit[m] = (faces[face_index[m]] == i).any(-1)
            if hit.any() and torch.allclose(got, field[hit].mean(0), atol=1e-6):
                return False, "that is the plain mean of the pixels; Eq. 5 weighs each pixel by the vertex's " \
                              "barycentric coordinate b_xy,i (and divides by their sum)."
            return False, f"vertex {i}: expected the barycentric-weighted mean of the pixels that see it."
    return True, "your Eq. 5 matches dispkit.displacement.pixels_to_vertices on every vertex of three random meshes."


def _scatter_variants(field, face_index, bary, faces, V):
    """What two common slips of a scatter give: the plain mean and the weighted sum without the division."""
    fg = face_index >= 0
    verts = faces[face_index[fg]].reshape(-1)
    w = bary[fg].reshape(-1)
    f = field[fg][:, None, :].expand(-1, 3, -1).reshape(-1, 2)
    num = torch.zeros(V, 2, dtype=field.dtype).index_add_(0, verts, w[:, None] * f)
    cnt = torch.zeros(V, dtype=field.dtype).index_add_(0, verts, (w > 0).to(field.dtype))
    plain = torch.zeros(V, 2, dtype=field.dtype).index_add_(0, verts, f * (w > 0).to(field.dtype)[:, None])
    plain = plain / cnt.clamp(min=1)[:, None]
    return {"plain": plain, "sum": num}


def _one_voter_each(got, field, face_index, faces, vis) -> bool:
    """Whether every visible vertex's value equals the field at one of the pixels that see it."""
    fg = face_index >= 0
    corners, f = faces[face_index[fg]], field[fg]  # [P,3], [P,2]
    for i in vis.nonzero().flatten().tolist():
        voters = f[(corners == i).any(-1)]
        if not bool(torch.isclose(voters, got[i], atol=1e-6).all(-1).any()):
            return False
    return True


@_exercise("06.eq5_scatter", "Write eq5_scatter(field, face_index, bary, faces, num_vertices): Eq. 5 for every "
           "vertex at once, with no loop over vertices or pixels: scatter each foreground pixel's weighted field "
           "b_xy,k * f_xy and its weight b_xy,k to the three corners k of its triangle (index_add_), then divide. "
           "Return (v [V,2], visible [V] bool), with v = 0 where nothing was accumulated.",
           "fg = face_index >= 0; corners = faces[face_index[fg]] [P,3]; w = bary[fg] [P,3]; "
           "num = torch.zeros(V, 2).index_add_(0, corners.reshape(-1), "
           "(w[..., None] * field[fg][:, None]).reshape(-1, 2)); "
           "den likewise with w.reshape(-1); visible = den > 1e-6; v = num / den where visible.")
def _eq5_scatter(answer):

    if not callable(answer):
        return False, "pass your function itself."
    for seed in range(3):
        V, faces, face_index, bary, field, want, vis = _random_case(seed)
        want, vis = want[0], vis[0]
        out = _call(answer, field.clone(), face_index.clone(), bary.clone(), faces.clone(), V)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            return False, "return two things, (v [V,2], visible [V] bool), as pixels_to_vertices does."
        got, got_vis = _as_tensor(out[0]), torch.as_tensor(out[1]).bool()
        if got.shape != (V, 2) or got_vis.shape != (V,):
            return False, f"expected v of shape [{V}, 2] and visible of shape [{V}], got {tuple(got.shape)} and " \
                          f"{tuple(got_vis.shape)}."
        if torch.allclose(got[vis], want[vis], atol=1e-6) and bool((got_vis == vis).all()) \
                and torch.allclose(got[~vis], torch.zeros_like(got[~vis])):
            continue
        slips = _scatter_variants(field, face_index, bary, faces, V)
        if torch.allclose(got[vis], slips["plain"][vis], atol=1e-6):
            return False, "that is the plain mean of each vertex's pixels; Eq. 5 weighs each pixel by b_xy,i."
        if torch.allclose(got[vis], slips["sum"][vis], atol=1e-6):
            return False, "that is the weighted sum Σ b f; Eq. 5 divides it by Σ b (scatter the weights too)."
        if not bool((got_vis == vis).all()):
            return False, "visible is wrong: a vertex is visible exactly when its accumulated weight Σ b exceeds " \
                          "a small threshold (1e-6)."
        if not torch.allclose(got[~vis], torch.zeros_like(got[~vis])):
            return False, "invisible vertices must get 0 (and visible False), not a division by zero."
        if _one_voter_each(got, field, face_index, faces, vis):
            return False, "each vertex got the value of one of its pixels: an indexed assignment such as " \
                          "num[idx] += x keeps only one of the repeated indices instead of adding them all up. " \
                          "Accumulate with num.index_add_(0, idx, x) (or scatter_add_)."
        bad = int((~torch.isclose(got, want, atol=1e-6).all(-1) & vis).nonzero()[0, 0])
        return False, f"vertex {bad}: expected {want[bad].tolist()}, got {got[bad].tolist()}."
    return True, "your scatter matches dispkit.displacement.pixels_to_vertices on three random meshes: one pass " \
                 "over the pixels instead of one per vertex, which is how the package does Eq. 5 for a whole batch."


def _blurred(white: torch.Tensor, blur_px: float) -> torch.Tensor:
    """White noise [H,W,2] blurred by a Gaussian of std ``blur_px`` pixels and rescaled to the same per-pixel std.
    The blur is separable: the normalised 1D kernel k along x, then along y, i.e. the 2D kernel k kᵀ, which leaves
    the variance times (Σk²)² and so the std times Σk²: divide by Σk²."""
    r = max(1, int(math.ceil(3 * blur_px)))
    x = torch.arange(-r, r + 1, dtype=white.dtype)
    k = torch.exp(-0.5 * (x / blur_px) ** 2)
    k = k / k.sum()
    n = torch.nn.functional.pad(white.permute(2, 0, 1)[:, None], (r, r, r, r), mode="reflect")
    n = torch.nn.functional.conv2d(n, k.view(1, 1, 1, -1))
    n = torch.nn.functional.conv2d(n, k.view(1, 1, -1, 1))
    return n[:, 0].permute(1, 2, 0) / k.pow(2).sum()


def noise_reduction(face_index, bary, mask, faces, num_vertices: int, blur_px: float = 2.0, draws: int = 4,
                    seed: int = 0) -> dict:
    """How much Eq. 5 reduces noise on a field: the per-pixel RMS of the noise over the rendered pixels divided by
    its per-vertex RMS after Eq. 5 (visible vertices), for independent Gaussian noise and for the same noise
    blurred by ``blur_px`` (same per-pixel std), averaged over ``draws`` draws; ``effective_votes``: the mean of
    (Σb)² / Σb² over the visible vertices, from which independent noise predicts the reduction
    ``1 / sqrt(mean(Σb² / (Σb)²))``. Maps of one image: ``face_index`` [H,W], ``bary`` [H,W,3], ``mask`` [H,W]."""
    from dispkit.displacement import pixels_to_vertices

    face_index, mask = torch.as_tensor(face_index).long(), torch.as_tensor(mask).bool()
    bary, faces = torch.as_tensor(bary).double(), torch.as_tensor(faces).long()
    g = torch.Generator().manual_seed(seed)
    out = {"independent": 0.0, "correlated": 0.0}
    for _ in range(draws):
        white = torch.randn(*face_index.shape, 2, generator=g, dtype=torch.float64)
        for kind, noise in (("independent", white), ("correlated", _blurred(white, blur_px))):
            noise = noise * mask[..., None]
            v, vis = pixels_to_vertices(noise[None], face_index[None], bary[None], faces, num_vertices)
            out[kind] += float(noise[mask].pow(2).mean().sqrt() / v[0][vis[0]].pow(2).mean().sqrt()) / draws
    fg = face_index >= 0
    verts, w = faces[face_index[fg]].reshape(-1), bary[fg].reshape(-1)
    s1 = torch.zeros(num_vertices, dtype=torch.float64).index_add_(0, verts, w)
    s2 = torch.zeros(num_vertices, dtype=torch.float64).index_add_(0, verts, w * w)
    vis = s1 > 1e-6
    out["effective_votes"] = float((s1[vis] ** 2 / s2[vis]).mean())
    out["predicted_independent"] = float((s2[vis] / s1[vis] ** 2).mean().rsqrt())
    out["pixels_per_vertex"] = float(mask.sum() / vis.sum())
    out["blur_px"] = float(blur_px)
    return out


@_exercise("06.correlated_noise", "Predict, then measure: by what factor R does Eq. 5 reduce noise on the field (the "
           "per-pixel RMS over the per-vertex RMS; 1 = no reduction), (a) for independent noise on every pixel, "
           "(b) for the same noise blurred over a few pixels (spatially correlated, same per-pixel std)? Answer "
           "(R_independent, R_correlated) and pass the notebook's renderings: check(..., views=views, body=body).",
           "a vertex's Eq. 5 value is a weighted mean of the few pixels around it (the printed pixels per vertex); "
           "the mean of n independent errors shrinks by sqrt(n); errors that are equal at all n pixels do not "
           "shrink at all.")
def _correlated_noise(answer, views=None, body=None, blur_px: float = 2.0):
    try:
        pred = [_number(a) for a in answer]
    except TypeError:
        return False, "give two numbers: (R for independent noise, R for correlated noise)."
    if len(pred) != 2:
        return False, "give two numbers: (R for independent noise, R for correlated noise)."
    if views is None or body is None:
        return False, "pass the renderings and the body: check('06.correlated_noise', answer, views=views, body=body)."
    r = noise_reduction(views["face_index"][0], views["bary"][0], views["mask"][0], body.faces, body.num_vertices,
                        blur_px=blur_px)
    ind, cor = r["independent"], r["correlated"]
    measured = f"measured on this scene: R = {ind:.2f} for independent noise, {cor:.2f} for noise blurred by " \
               f"{blur_px:g} px"
    votes = f"a visible vertex gets {r['pixels_per_vertex']:.1f} rendered pixels on average, and, since its " \
            f"weights b are unequal, effectively n_eff = (Σb)²/Σb² votes ({r['effective_votes']:.1f} on average); " \
            "independent noise shrinks a vertex's spread by sqrt(n_eff), so the RMS over the vertices, which the " \
            "vertices with the fewest votes dominate, by 1/sqrt(mean(1/n_eff)) = " \
            f"{r['predicted_independent']:.2f}"
    if min(pred) < 0.85:
        return False, "R well below 1 would mean Eq. 5 amplifies the noise, but in expectation a weighted mean does " \
                      "not spread more than its inputs; a measured R slightly below 1 is sampling chance. " \
                      f"{measured}."
    if pred[0] <= pred[1]:
        return False, f"{measured}. Averaging removes only independent noise: errors that differ from pixel to " \
                      "pixel partly cancel in the mean; blurred noise is nearly the same at all the pixels around " \
                      "a vertex, so their mean keeps it."
    if abs(pred[0] - ind) > 0.3 * max(ind - 1, 0.05):  # the reduction itself, R - 1, within 30 %
        return False, f"right order, but R_independent = {pred[0]:g} is off: {measured}; {votes}."
    if abs(pred[1] / cor - 1) > 0.15:
        return False, f"right order, but R_correlated = {pred[1]:g} is off: {measured}. A vertex's voting pixels " \
                      f"lie within about a pixel of each other, well inside the {blur_px:g}-px blur, so they carry " \
                      "almost the same error."
    return True, f"{measured}; {votes}. Averaging only removes independent noise: the blurred noise is nearly the " \
                 "same at all the pixels around a vertex, so Eq. 5 keeps almost all of it. A network's errors at " \
                 "neighbouring pixels share most of their receptive field, so expect them to behave more like the " \
                 "second case than the first."
