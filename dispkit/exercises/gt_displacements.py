"""Exercises of notebook 04 (keys ``"04.*"``)."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _as_tensor, _call, _close, _exercise, _name, _number, _random_maps


@_exercise("04.eq2_pixel", "Write eq2_pixel(v_hat, faces, face_index, bary, row, col): Eq. 2 for one pixel, from "
           "the per-vertex GT displacements v_hat [V,2] (Eq. 1), the triangles faces [F,3] and the maps "
           "face_index [H,W] (-1 on background) and bary [H,W,3].",
           "t = face_index[row, col] is the visible triangle; its vertices are faces[t] (the AIndexMap); f_hat = sum "
           "over k of bary[row, col, k] * v_hat[faces[t, k]]; background pixels get (0, 0).")
def _eq2_pixel(answer):
    from dispkit.displacement import pixel_field

    if not callable(answer):
        return False, "pass your function itself."
    for seed in range(3):
        V, faces, face_index, bary, g = _random_maps(seed)
        v = torch.randn(V, 2, generator=g, dtype=torch.float64) * 5
        want = pixel_field(v[None], face_index[None], bary[None], faces)[0]
        row, col = (int(k) for k in (face_index >= 0).nonzero()[0])
        _call(answer, v.clone(), faces.clone(), face_index.clone(), bary.clone(), row, col)  # None there: a stub
        for row in range(face_index.shape[0]):
            for col in range(face_index.shape[1]):
                got = answer(v.clone(), faces.clone(), face_index.clone(), bary.clone(), row, col)
                if got is None:
                    if int(face_index[row, col]) < 0:
                        return False, f"pixel ({row}, {col}) is background (face_index -1) and your function " \
                                      "returned None: Eq. 2 gives it the displacement (0, 0) (and the loss mask m " \
                                      "of Eq. 3 is 0 there)."
                    return False, f"pixel ({row}, {col}) has a triangle, but your function returned None."
                got = _as_tensor(got).reshape(-1)
                if got.shape != (2,):
                    return False, f"return a 2-vector, got shape {tuple(got.shape)}."
                if torch.allclose(got, want[row, col], atol=1e-6):
                    continue
                if int(face_index[row, col]) < 0:
                    return False, "a background pixel (face_index -1) has no triangle: its displacement is (0, 0) " \
                                  "(and the loss mask m of Eq. 3 is 0 there)."
                return False, f"pixel ({row}, {col}): expected the barycentric mix of its triangle's three vertex " \
                              f"displacements, got {got.tolist()}."
    return True, "your Eq. 2 matches dispkit.displacement.pixel_field on every pixel of three random meshes."


@_exercise("04.largest_joint", "Which of the 24 joints has the largest Eq. 1 displacement (in image pixels) in "
           "this notebook's scene? Pass its name and the scene: check(..., answer, scene=scene).",
           "apply vertex_displacements to the GT and initial joints (body(**scene.gt).joints, ...) and take the "
           "joint with the longest vector; dispkit.body.SMPL_JOINT_NAMES names them.")
def _largest_joint(answer, scene=None, body=None):
    from dispkit.body import SMPL_JOINT_NAMES, default_body
    from dispkit.displacement import vertex_displacements

    if scene is None:
        return False, "pass the scene too: check('04.largest_joint', answer, scene=scene, body=body)."
    body = default_body(body)
    with torch.no_grad():
        d = vertex_displacements(body(**scene.gt).joints, body(**scene.init).joints, scene.camera)[0].norm(dim=-1)
    order = torch.argsort(d, descending=True)
    best = SMPL_JOINT_NAMES[int(order[0])]
    name = _name(answer)
    if name not in SMPL_JOINT_NAMES:
        return False, f"{answer!r} is not one of the 24 joint names (dispkit.body.SMPL_JOINT_NAMES)."
    top = ", ".join(f"{SMPL_JOINT_NAMES[int(i)]} {float(d[i]):.1f} px" for i in order[:3])
    if name == best:
        return True, f"largest: {top}; pelvis {float(d[0]):.1f} px. The kit's simulated regressor turns every " \
                     "joint a little, and the far ends of the kinematic chains collect the rotation errors of every " \
                     "joint above them (the paper's abstract: 'minor joint rotation errors that accumulate along " \
                     "the kinematic chain'). They also get the largest share of the regressor's global-rotation " \
                     "error and of its depth error, which moves the body along its viewing ray and so scales the 2D " \
                     "body about the pelvis: both grow with the distance from the root."
    rank = int((order == SMPL_JOINT_NAMES.index(name)).nonzero()[0, 0]) + 1
    return False, f"{name} is number {rank} of 24 ({float(d[SMPL_JOINT_NAMES.index(name)]):.1f} px); the " \
                  f"largest: {top}. Joint-rotation errors accumulate along the kinematic chain, and the global " \
                  "rotation and the scale error of a wrong depth grow with the distance from the pelvis, so look " \
                  "towards the ends of the chains."


@_exercise("04.resolution", "The scene is rendered at W x H. Rendered at twice the width and height with the same "
           "full-image camera rule (f = sqrt(w² + h²), principal point at the centre), by what factor does the mean "
           "length of the Eq. 2 field change?",
           "f = sqrt(w² + h²) doubles with the image, and pixel coordinates scale with f.")
def _resolution(answer):
    a = _number(answer)
    if _close(a, 2.0, rel=0.02):
        return True, "x2: displacements are in pixels and scale with the resolution. This is one reason a loss " \
                     "measured in pixels needs a scaling such as §4.1's, which scales the reprojection loss " \
                     "'depending on the size of the person' (§4.1 gives no reason, and a person's size in pixels " \
                     "also depends on their distance; the kit's reading, an assumption: residuals in units of a " \
                     "224-pixel person crop, dispkit.terms.person_scale). It is also why the network's " \
                     "displacements are converted from crop to full-image pixels (after Eq. 5, before Eq. 6)."
    if _close(a, 4.0, rel=0.02):
        return False, "the number of pixels grows 4x, but each vector's length only scales with f."
    if _close(a, 1.0, rel=0.02):
        return False, "the field is measured in pixels, and there are more pixels per metre now."
    return False, f"{a:g} is not how f = sqrt(w² + h²) changes."


