"""Exercises of notebook 09 (keys ``"09.*"``)."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _close, _exercise, _name, _number


@_exercise("09.depth", "A regressor's crop camera is (s, tx, ty) = (0.9, 0, 0) for a 300-pixel box centred in a "
           "1920 x 1080 frame. At what depth t_z (metres) does the body stand in the full image's camera?",
           "the crop spans [-1, 1], i.e. b = 300 pixels for 2 units; a metre at depth t_z is f / t_z pixels: "
           "s · b / 2 = f / t_z with f = sqrt(w² + h²).")
def _depth(answer):
    from dispkit.camera import crop_cam_to_full

    want = float(crop_cam_to_full(torch.tensor([[0.9, 0.0, 0.0]]), torch.tensor([[960.0, 540.0]]),
                                  torch.tensor([300.0]), 1920, 1080)[0, 2])
    a = _number(answer)
    if _close(a, want, rel=0.005):
        return True, f"t_z = 2 f / (b s) = {want:.2f} m (dispkit.camera.crop_cam_to_full, CLIFF's rule): the " \
                     "regressor's scale becomes a depth in the full-image camera that SMPLify fits in."
    if _close(a, want / 2, rel=0.005):
        return False, "off by 2: the crop's normalised coordinates span 2 units ([-1, 1]) over b pixels."
    if _close(a, want * 2, rel=0.005):
        return False, "twice too far: b pixels span 2 normalised units, not 1."
    return False, f"{a:g} m is not 2 f / (b s) for f = sqrt(1920² + 1080²)."


@_exercise("09.texture_meshes", "refine_sequence back-projects the person's texture before refining. With which "
           "meshes: 'initial', 'refined' or 'gt'?",
           "what is known at test time?")
def _texture_meshes(answer):
    s = _name(answer)
    if s in ("initial", "init", "estimate", "estimates", "initial_estimate"):
        return True, "the initial meshes: the ground truth is unknown at test time, and the refined ones do not " \
                     "exist yet. Their errors blur the texture, which is why the network was trained on " \
                     "textures back-projected the same way."
    if s in ("gt", "ground_truth", "true"):
        return False, "at test time there is no ground truth."
    if s in ("refined", "fitted"):
        return False, "the texture is an input of the refinement, so it comes before it."
    return False, f"answer 'initial', 'refined' or 'gt' (got {answer!r})."


