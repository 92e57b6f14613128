"""Exercises of notebook 03 (keys ``"03.*"``)."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _close, _exercise, _name, _number


@_exercise("03.median", "Four frames see one vertex with the grey values 0.52, 0.55, 0.50 and 0.95 (in the "
           "fourth the vertex is hidden behind an arm the renderer missed). Which colour does the paper's "
           "back-projection give the vertex, and what would the mean give? Answer (median, mean).",
           "the paper takes the median over the frames; compare with the mean.")
def _median(answer):
    med, mean = (_number(x) for x in answer)
    vals = torch.tensor([0.52, 0.55, 0.50, 0.95])
    lower = float(vals.median())  # torch (and dispkit.texture) take the lower of the two middle values
    if not _close(med, 0.535, rel=1e-3) and not _close(med, lower, rel=1e-3):
        return False, f"sort the four values; the median lies between the middle two (0.52 and 0.55), not at {med:g}."
    if not _close(mean, float(vals.mean()), rel=1e-3):
        return False, f"the median is right; the mean is {float(vals.mean()):.4f}, not {mean:g}."
    good = vals[:3]
    return True, f"0.535 (numpy's median of an even count: the mean of the middle two; torch.nanmedian, which " \
                 f"dispkit.texture uses, takes the lower one, {lower:.2f}) " \
                 f"against a mean of {float(vals.mean()):.3f}. The wrong frame moves the mean " \
                 f"from {float(good.mean()):.3f} (the three good frames) to " \
                 f"{float(vals.mean()):.3f}, by {float(vals.mean() - good.mean()):.2f}, and the median from " \
                 f"{float(good.median()):.2f} by {0.535 - float(good.median()):.3f} (numpy) or not at all (torch). " \
                 "That is what the median is for (§4 takes it); whether it wins on a given person depends on how " \
                 "many frames are wrong for a vertex, as the lines printed in the notebook show."


_PROTOCOLS: dict = {}


def _protocol_errors(scene, body, frames: int, size: int = 256) -> dict:
    """Colour errors (0-255, seen vertices) and coverage of the texture back-projected from the same frames with
    the GT meshes and with a simulated regressor's initial meshes (the two protocols of notebook 03); cached."""
    import numpy as np

    from dispkit.data.regressors import simulate_regressor
    from dispkit.data.synthetic import person_sequence
    from dispkit.texture import estimate_texture, texture_error

    key = (scene.seed, scene.regressor, scene.distribution, int(frames), int(size))
    if key not in _PROTOCOLS:
        seq = person_sequence(scene, frames, body)
        init = simulate_regressor(seq["params"], scene.regressor, np.random.default_rng([scene.seed, 5]), body)
        with torch.no_grad():
            init_v = body(**init).vertices
        out = {}
        for name, verts in (("gt", seq["vertices"]), ("initial", init_v)):
            tex, info = estimate_texture(seq["images"], verts, seq["camera"], body, size=int(size))
            out[name] = {"error": texture_error(tex, scene.texture, body, info["seen"])["seen_mean_abs_error_255"],
                         "coverage": info["coverage"]}
        _PROTOCOLS[key] = out
    return _PROTOCOLS[key]


@_exercise("03.init_meshes", "Back-project the same reference frames with the initial meshes (a regressor's "
           "estimate in each frame, what refine_sequence has at test time) instead of the GT meshes. Predict: is the "
           "colour error on the seen vertices 'larger' or 'smaller' than with the GT meshes? Pass the scene: "
           "check(..., answer, scene=scene, body=body, frames=frames, size=texture_size).",
           "where does a pixel's colour land when the mesh is drawn a few pixels beside the person?")
def _init_meshes(answer, scene=None, body=None, frames: int = 4, size: int = 256):
    from dispkit.body import default_body
    from dispkit.data.synthetic import make_scene

    body = default_body(body)
    scene = make_scene(0, "pare-like", body=body) if scene is None else scene
    m = _protocol_errors(scene, body, frames, size)
    gt, init = m["gt"]["error"], m["initial"]["error"]
    want = "larger" if init > gt else "smaller"
    a = _name(answer)
    a = {"higher": "larger", "worse": "larger", "more": "larger", "lower": "smaller", "better": "smaller",
         "less": "smaller"}.get(a, a)
    if a not in ("larger", "smaller"):
        return False, f"answer 'larger' or 'smaller' (got {answer!r})."
    measured = (f"measured on scene {scene.seed} ({frames} frames, {size}² texture): {init:.1f}/255 with the "
                f"initial meshes against {gt:.1f}/255 with the "
                f"GT meshes (coverage {m['initial']['coverage']:.2f} and {m['gt']['coverage']:.2f})")
    if a == want == "larger":
        return True, f"larger, {measured}. A mesh drawn beside the person paints background and neighbouring body " \
                     "parts onto the vertices near its silhouette, in every frame a little differently; the GT " \
                     "meshes of synthetic frames are exact, so only shading, blur and silhouette pixels remain."
    if a == want:
        return True, f"smaller, {measured}: on this scene the initial meshes happened to fit the frames as well."
    return False, f"not on this scene: {measured}. Think of where the image colours land when the mesh is off."
