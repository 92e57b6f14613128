"""dispkit: dense 2D displacements for refining 3D human pose and shape.

A teaching and reproducibility kit for Wehrbein et al., *Personalized 3D Human
Pose and Shape Refinement* (ICCVW 2023). One module per step of the paper:

* :mod:`dispkit.body`    -- SMPL-format body models through ``smplx`` (§3, body representation)
* :mod:`dispkit.camera`  -- pinhole camera, f = sqrt(w^2 + h^2), projection pi (§4.1)
* :mod:`dispkit.metrics` -- MPJPE, N-MPJPE, PA-MPJPE, PVE, N-PVE, PA-PVE (§4)
* :mod:`dispkit.render`  -- rasteriser with nvdiffrast's contract and the paper's modalities (§3.1)
* :mod:`dispkit.displacement` -- Eq. 1, 2, 5, 6 and the EPE
* :mod:`dispkit.net`, :mod:`dispkit.train` -- the displacement network and its training (§3.1, Eq. 3)
* :mod:`dispkit.data`    -- synthetic scenes, simulated regressors and detectors, training samples, readers of
  the real datasets (§4)
* :mod:`dispkit.fit`     -- SMPLify with the dense term (Eq. 4, Eq. 7), keypoint/DensePose terms, priors (§3.2)
* :mod:`dispkit.texture` -- the person's texture by back-projection (§4) and its degradations (§4.3)

``dispkit.refine(image, init, cam, texture)`` runs the whole method.
"""
from importlib import import_module as _import_module

__version__ = "0.1.0"

_SUBMODULES = ("body", "camera", "metrics", "render", "displacement", "net", "train",
               "data", "fit", "texture", "viz")


def __getattr__(name):  # lazy submodules: `import dispkit; dispkit.body.load_body_model(...)`
    if name in _SUBMODULES:
        return _import_module(f"dispkit.{name}")
    if name == "refine":  # the whole method in one call (dispkit.fit.refine)
        return _import_module("dispkit.fit").refine
    raise AttributeError(f"module 'dispkit' has no attribute {name!r}")
