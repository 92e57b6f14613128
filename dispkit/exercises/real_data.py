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
        return True, (f"t_z = 2 f / (b s) = {want:.2f} m (dispkit.camera.crop_cam_to_full: HMR/SPIN's t_z = 2 f / "
                      "(b s), here with the full image's f and the box's b, as in CLIFF's cam_crop2full): the "
                      "regressor's scale becomes a depth in the full-image camera that SMPLify fits in.")
    if _close(a, want / 2, rel=0.005):
        return False, "off by 2: the crop's normalised coordinates span 2 units ([-1, 1]) over b pixels."
    if _close(a, want * 2, rel=0.005):
        return False, "twice too far: b pixels span 2 normalised units, not 1."
    return False, f"{a:g} m is not 2 f / (b s) for f = sqrt(1920² + 1080²)."


@_exercise("09.texture_meshes", "Two texture protocols: back-project the person's texture with the GT (annotated) "
           "meshes of the texture frames, as the paper does with its reference sequences, or with the initial "
           "meshes, as refine_sequence does at test time without annotations. Predict which texture is closer to "
           "the person's true texture and which gives the network the lower EPE: a pair such as "
           "('gt', 'initial'). Then run the comparison: check(..., answer, protocols=protocols).",
           "the initial meshes are off by the regressor's error: where they are, each frame paints the image's "
           "colours onto the wrong part of the body.")
def _texture_meshes(answer, protocols=None):
    names = {"gt": "gt", "ground_truth": "gt", "annotated": "gt", "annotations": "gt", "true": "gt",
             "initial": "initial", "init": "initial", "estimate": "initial", "estimates": "initial",
             "initial_estimate": "initial"}
    if isinstance(answer, str):
        return False, "answer a pair, (closer, lower): the protocol whose texture is closer to the truth and the " \
                      "one with the lower EPE, each 'gt' or 'initial'."
    try:
        closer, lower = (names.get(_name(x)) for x in answer)
    except (TypeError, ValueError):
        return False, "answer a pair: (the protocol whose texture is closer to the truth, the one with the lower " \
                      "EPE), each 'gt' or 'initial'."
    if closer is None or lower is None:
        return False, f"each answer is 'gt' or 'initial' (got {answer!r})."
    if protocols is None:
        return None, "this exercise compares the protocols on the sequence; with no sequence there is nothing to " \
                     "compare (run the notebook with synthetic=True, its default, or with your data)."
    try:
        epe = {k: float(protocols[k]["epe_crop_px"]) for k in ("gt", "initial")}
        err = {k: protocols[k].get("texture_error_255") for k in ("gt", "initial")}
    except (KeyError, TypeError, ValueError, AttributeError):
        return False, "pass the dict the comparison cell made: check(..., answer, protocols=protocols)."
    want_lower = min(epe, key=epe.get)
    known = all(v is not None for v in err.values())
    want_closer = min(err, key=err.get) if known else None
    facts = f"EPE with the GT-mesh texture {epe['gt']:.3f} crop px, with the initial-mesh texture " \
            f"{epe['initial']:.3f} ({100 * (epe['initial'] / epe['gt'] - 1):+.1f} %)"
    facts += (f"; colour error against the true texture {err['gt']:.1f} vs {err['initial']:.1f} (0-255, on the "
              "vertices both saw)." if known else "; no true texture to compare with (real data).")
    why = " The initial meshes are off by the regressor's error, so each frame paints the image's colours onto " \
          "the wrong part of the body and the median over frames blurs; the GT meshes put them where they " \
          "belong (the paper's textures still show artefacts, from \"imperfect 3D mesh annotations\"). The " \
          "network was trained on textures back-projected with GT meshes (dispkit.data.training.texture_pool), " \
          "so at test time it meets the blurrier kind; the EPE moves much less than the texture, because the " \
          "network leans on the texture only in part (notebook 05)."
    wrong = []
    if known and closer != want_closer:
        wrong.append(f"the texture closer to the truth is the '{want_closer}' one")
    if lower != want_lower:
        wrong.append(f"the lower EPE comes with the '{want_lower}' texture")
    if wrong:
        return False, "measured: " + " and ".join(wrong) + ". " + facts + why
    return True, (f"('{want_closer}', '{want_lower}'): " if known else f"lower EPE: '{want_lower}' (the texture "
                  "comparison needs the true texture): ") + facts + why
