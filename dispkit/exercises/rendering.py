"""Exercises of notebook 02 (keys ``"02.*"``)."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _as_tensor, _call, _close, _exercise, _name, _number


def _reference_bary(p, a, b, c):
    p, a, b, c = (_as_tensor(x) for x in (p, a, b, c))
    area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    l1 = ((b[0] - p[0]) * (c[1] - p[1]) - (b[1] - p[1]) * (c[0] - p[0])) / area
    l2 = ((c[0] - p[0]) * (a[1] - p[1]) - (c[1] - p[1]) * (a[0] - p[0])) / area
    return torch.stack([l1, l2, 1 - l1 - l2])


@_exercise("02.barycentric", "Write barycentric(p, a, b, c): the barycentric coordinates (b1, b2, b3) of a 2D "
           "point p in the triangle a, b, c (each a pair of pixel coordinates).",
           "b1 is the area of the triangle (p, b, c) divided by the area of (a, b, c), with signs; likewise b2 with "
           "(a, p, c); b3 = 1 - b1 - b2.")
def _barycentric(answer):
    if not callable(answer):
        return False, "pass your function itself."
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        a, b, c = (torch.rand(2, generator=g, dtype=torch.float64) * 10 for _ in range(3))
        w = torch.rand(3, generator=g, dtype=torch.float64)
        w = w / w.sum()
        p = w[0] * a + w[1] * b + w[2] * c
        got = _as_tensor(_call(answer, p.clone(), a.clone(), b.clone(), c.clone())).reshape(-1)
        if got.shape != (3,):
            return False, f"return three numbers, got shape {tuple(got.shape)}."
        if torch.allclose(got, w, atol=1e-6):
            continue
        if abs(float(got.sum()) - 1) > 1e-6:
            return False, f"barycentric coordinates sum to 1; yours sum to {float(got.sum()):.4f}."
        if torch.allclose(torch.sort(got).values, torch.sort(w).values, atol=1e-6):
            return False, "right numbers, wrong order: b1 belongs to a (it is 1 at a), b2 to b, b3 to c."
        return False, f"for p = {p.tolist()} in ({a.tolist()}, {b.tolist()}, {c.tolist()}) the coordinates are " \
                      f"not {got.tolist()}."
    return True, "right on 20 random triangles; the rasteriser stores exactly these for every pixel centre " \
                 "(perspective-corrected, as nvdiffrast does) and Eq. 2 and Eq. 5 weigh the vertices with them."


@_exercise("02.normal_sign", "In the camera frame (OpenCV: z points forward, away from the camera), is the z "
           "component of a normal of a surface facing the camera positive or negative?",
           "a surface facing the camera points back towards it, against the viewing direction +z.")
def _normal_sign(answer):
    s = _name(answer)
    neg = s in ("negative", "neg", "-", "minus", "<0") or (not isinstance(answer, str) and _number(answer) < 0)
    if neg:
        return True, "negative: visible surfaces point towards the camera, i.e. along -z (notebook 01 counts " \
                     "the share of rendered normals with n·ray < 0 to check the renderer)."
    return False, "the viewing ray goes along +z; a surface you see faces back along the ray."


@_exercise("02.crop_focal", "A 256 x 256 full image (f = sqrt(256² + 256²)) is cropped to a 128-pixel box and "
           "rendered at 64 x 64 through the crop camera. What is the crop camera's focal length?",
           "the crop camera scales the intrinsics by the crop's pixels per full-image pixel (64 / 128).")
def _crop_focal(answer):
    from dispkit.camera import Camera

    cam = Camera.full_image(256, 256)
    want = float(cam.crop(torch.tensor([[64.0, 64.0, 192.0, 192.0]]), (64, 64)).focal[0, 0])
    a = _number(answer)
    if _close(a, want):
        return True, f"f' = f · 64/128 = {want:.2f} px (Camera.crop): the same rays, fewer pixels per ray, so the " \
                     "crop is rendered exactly instead of resampled."
    if _close(a, float(cam.focal[0, 0]) * 2):
        return False, "you scaled up; the crop has fewer pixels than the box (64 for 128), so f shrinks."
    if _close(a, float(cam.focal[0, 0])):
        return False, "that is the full image's f; the crop camera's pixels are bigger."
    return False, f"{a:g} px is not f scaled by the crop's pixels per box pixel."


