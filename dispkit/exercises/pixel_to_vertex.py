"""Exercises of notebook 06 (keys ``"06.*"``)."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _as_tensor, _close, _exercise, _NoAnswer, _number, _random_maps


@_exercise("06.eq5_vertex", "Write eq5_vertex(field, face_index, bary, faces, i): Eq. 5 for vertex i, from a "
           "field [H,W,2], the maps face_index [H,W] (-1 on background) and bary [H,W,3] and faces [F,3]. Return "
           "the 2-vector, or None when no pixel sees the vertex.",
           "loop over the foreground pixels; where vertex i is corner k of the visible triangle, add bary[y, x, k] "
           "* field[y, x] to a sum and bary[y, x, k] to a weight; the answer is sum / weight.")
def _eq5_vertex(answer):
    from dispkit.displacement import pixels_to_vertices

    if not callable(answer):
        return False, "pass your function itself."
    for seed in range(3):
        V, faces, face_index, bary, g = _random_maps(seed)
        field = torch.randn(*face_index.shape, 2, generator=g, dtype=torch.float64) * 3
        field[face_index < 0] = 0
        want, vis = pixels_to_vertices(field[None], face_index[None], bary[None], faces, V)
        first = int(vis[0].nonzero()[0, 0])
        if answer(field.clone(), face_index.clone(), bary.clone(), faces.clone(), first) is None:
            raise _NoAnswer  # None for a vertex that pixels see: a stub
        for i in range(V):
            got = answer(field.clone(), face_index.clone(), bary.clone(), faces.clone(), i)
            if not bool(vis[0, i]):
                zero = torch.zeros(2, dtype=torch.float64)
                if got is not None and not torch.allclose(_as_tensor(got).reshape(-1), zero):
                    return False, f"vertex {i} is in no visible triangle: it gets no value (None), not {got}."
                continue
            if got is None:
                return False, f"vertex {i} is seen by some pixels, but your function returned None."
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


@_exercise("06.noise", "Four pixels vote for a vertex with equal weights, each with independent noise of standard "
           "deviation 1 px. What is the standard deviation of the vertex's Eq. 5 value?",
           "the mean of n independent values with standard deviation s has standard deviation s / sqrt(n).")
def _noise(answer):
    a = _number(answer)
    if _close(a, 0.5, rel=0.01):
        return True, "1/sqrt(4) = 0.5 px: averaging helps only with the square root of the votes, and at this " \
                     "resolution a vertex gets about one pixel; the fit gains more from using ~1000 targets at once."
    if _close(a, 0.25, rel=0.01):
        return False, "0.25 is the variance (1/4); the standard deviation is its square root."
    if _close(a, 1.0, rel=0.01):
        return False, "averaging independent errors shrinks them."
    return False, f"{a:g} px is not s / sqrt(n) for s = 1, n = 4."


