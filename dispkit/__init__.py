"""dispkit: dense 2D displacements for refining 3D human pose and shape.

A teaching and reproducibility kit for Wehrbein et al., *Personalized 3D Human
Pose and Shape Refinement* (ICCVW 2023). One module per step of the paper:

* :mod:`dispkit.body`    -- SMPL-format body models through ``smplx`` (§3, body representation)
* :mod:`dispkit.camera`  -- pinhole camera, f = sqrt(w^2 + h^2), projection pi, the person crop (§4.1)
* :mod:`dispkit.raster`  -- rasterize / interpolate / texture with nvdiffrast's contract, CPU and CUDA backends
* :mod:`dispkit.render`  -- the paper's renderings: RGB, depth, normals, unique vertex colours (§3.1)
* :mod:`dispkit.displacement` -- Eq. 1, 2, 5, 6 and the EPE
* :mod:`dispkit.net`     -- the displacement network (§3.1); :mod:`dispkit.checkpoints` -- its files
* :mod:`dispkit.train`   -- its training (Eq. 3)
* :mod:`dispkit.data`    -- synthetic scenes, simulated regressors and detectors, training samples, readers of
  the real datasets (§4)
* :mod:`dispkit.terms`   -- SMPLify's data terms: dense (Eq. 7), keypoints, DensePose
* :mod:`dispkit.priors`  -- pose priors: GMM, VPoser, cNF (§4.1)
* :mod:`dispkit.fit`     -- SMPLify, the optimiser (Eq. 4)
* :mod:`dispkit.pipeline` -- the whole method: crop, render, predict, Eq. 5-6, SMPLify (Fig. 2)
* :mod:`dispkit.texture` -- the person's texture by back-projection (§4) and its degradations (§4.3)
* :mod:`dispkit.metrics` -- MPJPE, N-MPJPE, PA-MPJPE, PVE, N-PVE, PA-PVE (§4)
* :mod:`dispkit.inputs`  -- the checks of what a user passes to the entry points above, and their error types
* :mod:`dispkit.viz`, :mod:`dispkit.notebooks`, :mod:`dispkit.raycast` -- figures, running the notebooks, a
  ray-casting reference; :mod:`dispkit.licensed` -- where the licensed files come from; :mod:`dispkit.machine`

``dispkit.refine(image, init, cam, texture)`` runs the whole method.
"""
from importlib import import_module as _import_module

__version__ = "0.1.0"

_SUBMODULES = ("body", "camera", "checkpoints", "data", "displacement", "fit", "inputs", "licensed", "machine",
               "metrics", "net", "notebooks", "pipeline", "priors", "raster", "raycast", "render", "terms", "texture",
               "train", "viz")


def __getattr__(name):  # lazy submodules: `import dispkit; dispkit.body.load_body_model(...)`
    if name in _SUBMODULES:
        return _import_module(f"dispkit.{name}")
    if name == "refine":  # the whole method in one call (dispkit.pipeline.refine)
        return _import_module("dispkit.pipeline").refine
    raise AttributeError(f"module 'dispkit' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES, "refine"])
