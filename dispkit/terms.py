"""The data terms of SMPLify's Eq. 4 (§3.2, §4.1): the dense term (Eq. 7), OpenPose keypoints, DensePose.

Each term is a :class:`DataTerm`: ``loss(out, cam) -> [B]`` of the posed body ``out`` seen by ``cam``, and
``valid [B]``, the frames it can constrain. Residuals are measured in full-image pixels and scaled by the
person's size, as if the person filled a 224-pixel crop (SPIN's fitting size): a 3-pixel miss on a small person
counts as much as a 9-pixel miss on a person three times larger. They go through the Geman-McClure error
(:func:`gmof`), which grows like r² for small residuals and flattens at σ², so a few wrong targets (a flipped
keypoint, a wrong displacement) cannot drag the body. :data:`DATA_WEIGHTS` are §4.1's multipliers. The bending
term of SMPLify (:func:`bending_term`) is here too; the paper's modified SMPLify switches it off.
"""
from __future__ import annotations

import torch

from dispkit.body import OPENPOSE_NAMES, BodyOutput
from dispkit.camera import Camera

__all__ = ["DATA_WEIGHTS", "HIPS", "REFERENCE_SIZE", "SPIN_IGNORED", "TORSO", "DataTerm", "DensePoseTerm",
           "DenseTerm", "KeypointTerm", "SpinKeypointTerm", "bending_term", "data_weight", "gmof", "person_scale",
           "spin_keypoint_term"]

REFERENCE_SIZE = 224.0  # residuals are measured as if the person filled a 224-pixel crop (SPIN's fitting size)

#: §4.1's multipliers of the reprojection terms, per data term and pose prior. With GMM and VPoser the paper's
#: modified SMPLify weighs OpenPose x 5, ours x 0.4, DensePose x 0.002; with the cNF it runs ProHMR's fitting and
#: "only adjusts the weight of the reprojection term" of the dense and DensePose inputs, so OpenPose keeps
#: ProHMR's own weight (x 1) there.
DATA_WEIGHTS = {
    "keypoints": {"gmm": 5.0, "vposer": 5.0, "cnf": 1.0},
    "dense": {"gmm": 0.4, "vposer": 0.4, "cnf": 0.04},
    "densepose": {"gmm": 0.002, "vposer": 0.002, "cnf": 0.002},
}


def data_weight(kind: str, prior) -> float:
    """§4.1's multiplier of the data term ``kind`` (a :data:`DATA_WEIGHTS` key) with ``prior`` (a name such as
    ``"cnf"`` or ``"gmm:PATH"``); a prior given as a module, or none, gets the GMM / VPoser weight."""
    table = DATA_WEIGHTS[kind]
    name = prior.split(":")[0] if isinstance(prior, str) else "gmm"
    return table.get(name, table["gmm"])


def gmof(residual: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure robust error ``ρ(r) = σ² r² / (σ² + r²)``, elementwise (SMPLify's ``gmof``)."""
    r2 = residual ** 2
    return sigma ** 2 * r2 / (sigma ** 2 + r2)


def person_scale(size, B: int, device, dtype) -> torch.Tensor:
    """Factor turning full-image pixels into pixels of a 224-pixel person crop, per frame [B]."""
    if size is None:
        return torch.ones(B, device=device, dtype=dtype)
    size = torch.as_tensor(size, device=device, dtype=dtype).reshape(-1).expand(B)
    if not bool((size > 0).all()):
        raise ValueError("person sizes must be positive (pixels, e.g. the box side)")
    return REFERENCE_SIZE / size


class DataTerm:
    """A reprojection term: ``loss(out, cam) -> [B]``, ``valid -> [B] bool`` (frames it can constrain).

    ``camera_loss`` is what the camera stage minimises (by default the same loss).
    """

    weight: float = 1.0
    valid: torch.Tensor

    def loss(self, out: BodyOutput, cam: Camera) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def camera_loss(self, out: BodyOutput, cam: Camera) -> torch.Tensor:
        return self.loss(out, cam)

    def vertex_ids(self) -> torch.Tensor | None:
        """The mesh vertices the term reads, [n] long (``None``: all of them; empty: none, joints only)."""
        return None

    def restricted(self, lbs) -> DataTerm:
        """The same term reading the vertices of a :class:`dispkit.lbs.SubsetLBS` (its output rows, ``lbs.index``
        maps mesh ids to them) instead of the whole mesh; every loss is unchanged."""
        return self


class DenseTerm(DataTerm):
    """Eq. 7: ``L_2D = Σ_i w_i ρ(π(M(θ, β))_i − V_est,i)`` over the mesh vertices.

    ``targets`` [B,V,2] full-image pixels (Eq. 6's ``V_est``), ``visible`` [B,V] the ``w_i`` (Eq. 5's
    visibility), ``size`` [B] the person's size in pixels (e.g. the box side) for the scale, ``weight`` the
    §4.1 multiplier (0.4 with GMM/VPoser, 0.04 with cNF), ``sigma`` the Geman-McClure scale (in 224-crop
    pixels, SMPLify's 100).
    """

    def __init__(self, targets, visible, size=None, weight: float = 0.4, sigma: float = 100.0):
        targets = torch.as_tensor(targets)
        visible = torch.as_tensor(visible, device=targets.device).bool()
        if targets.ndim != 3 or targets.shape[-1] != 2 or visible.shape != targets.shape[:2]:
            raise ValueError(f"targets must be [B,V,2] and visible [B,V], got {tuple(targets.shape)} and "
                             f"{tuple(visible.shape)}")
        finite = torch.isfinite(targets).all(-1)
        self.targets = torch.where(finite[..., None], targets, torch.zeros_like(targets))
        self.visible = visible & finite
        self.valid = self.visible.any(1)
        self.scale = person_scale(size, targets.shape[0], targets.device, targets.dtype)
        self.weight, self.sigma = float(weight), float(sigma)

    def loss(self, out: BodyOutput, cam: Camera) -> torch.Tensor:
        # invisible vertices are replaced by the (detached) body centre before projecting: a vertex behind the
        # camera must not send inf * 0 = NaN gradients through the masked sum
        v = out.vertices
        v = torch.where(self.visible[..., None], v, v.detach().mean(1, keepdim=True))
        proj = cam.project(v)
        r = (proj - self.targets.to(proj.dtype)) * self.scale.to(proj.dtype)[:, None, None]
        rho = gmof(r, self.sigma).sum(-1)
        return self.weight * torch.where(self.visible, rho, torch.zeros_like(rho)).sum(1)  # w_i (NaN-safe)

    def vertex_ids(self) -> torch.Tensor:
        return torch.nonzero(self.visible.any(0)).flatten()

    def restricted(self, lbs) -> DenseTerm:
        import copy

        term = copy.copy(self)
        ids = lbs.vertex_ids.to(self.targets.device)
        term.targets, term.visible = self.targets[:, ids], self.visible[:, ids]
        return term


    @classmethod
    def from_field(cls, field, face_index, bary, faces, init_vertices, cam: Camera, size=None, scale=None,
                   **kw) -> DenseTerm:
        """The dense term from a per-pixel field (predicted or GT) and the renderings of the initial mesh.

        Eq. 5 (:func:`dispkit.displacement.pixels_to_vertices`) turns the field [B,H,W,2] into per-vertex
        displacements and the visibility ``w_i``; Eq. 6 (:func:`~dispkit.displacement.vertex_targets`) adds the
        projection of ``init_vertices`` by ``cam`` (the full-image camera). When the field lives in a crop,
        ``scale`` [B] is crop pixels per full-image pixel: displacements are divided by it first.
        """
        from dispkit.displacement import pixels_to_vertices, vertex_targets

        v, visible = pixels_to_vertices(field, face_index, bary, faces, init_vertices.shape[1])
        if scale is not None:
            v = v / torch.as_tensor(scale, dtype=v.dtype, device=v.device).reshape(-1, 1, 1)
        return cls(vertex_targets(v, init_vertices, cam), visible, size=size, **kw)


class DensePoseTerm(DataTerm):
    """DensePose-style correspondences: image pixels ``x_n`` [B,N,2] matched to body-surface points (triangle
    ``face_index`` [B,N] of ``faces``, barycentrics ``bary`` [B,N,3]); ``Σ_n ρ(π(Σ_k b_nk v_{f_n,k}) − x_n)``.

    ``valid`` [B,N] marks real correspondences (default: ``face_index >= 0``); ``weight`` 0.002 as §4.1 (DensePose
    gives a point per pixel, hence the small weight).
    """

    def __init__(self, pixels, face_index, bary, faces, valid=None, size=None, weight: float = 0.002,
                 sigma: float = 100.0):
        pixels = torch.as_tensor(pixels)
        face_index = torch.as_tensor(face_index, device=pixels.device).long()
        bary = torch.as_tensor(bary, device=pixels.device, dtype=pixels.dtype)
        if pixels.ndim != 3 or pixels.shape[-1] != 2 or face_index.shape != pixels.shape[:2] or \
                bary.shape != (*pixels.shape[:2], 3):
            raise ValueError(f"pixels [B,N,2], face_index [B,N] and bary [B,N,3] expected, got "
                             f"{tuple(pixels.shape)}, {tuple(face_index.shape)}, {tuple(bary.shape)}")
        faces = torch.as_tensor(faces, device=pixels.device).long()
        ok = (face_index >= 0) & (face_index < faces.shape[0]) & torch.isfinite(pixels).all(-1)
        ok &= torch.isfinite(bary).all(-1)
        if valid is not None:
            ok &= torch.as_tensor(valid, device=pixels.device).bool()
        self.pixels = torch.where(ok[..., None], pixels, torch.zeros_like(pixels))
        self.corners = faces[face_index.clamp(min=0, max=faces.shape[0] - 1)]  # [B,N,3] vertex ids
        # padding entries point at a real surface point (vertex 0 of face 0) so that projections stay finite
        self.bary = torch.where(ok[..., None], bary, torch.tensor([1.0, 0.0, 0.0], dtype=bary.dtype,
                                                                   device=bary.device))
        self.ok = ok
        self.valid = ok.any(1)
        self.scale = person_scale(size, pixels.shape[0], pixels.device, pixels.dtype)
        self.weight, self.sigma = float(weight), float(sigma)

    def loss(self, out, cam):
        v = out.vertices
        B, N = self.corners.shape[:2]
        corners = torch.gather(v, 1, self.corners.reshape(B, N * 3, 1).expand(-1, -1, 3)).reshape(B, N, 3, 3)
        points = (corners * self.bary.to(v.dtype)[..., None]).sum(2)
        r = (cam.project(points) - self.pixels.to(v.dtype)) * self.scale.to(v.dtype)[:, None, None]
        rho = gmof(r, self.sigma).sum(-1)
        return self.weight * torch.where(self.ok, rho, torch.zeros_like(rho)).sum(1)

    def vertex_ids(self) -> torch.Tensor:
        return self.corners.reshape(-1).unique()

    def restricted(self, lbs) -> DensePoseTerm:
        import copy

        term = copy.copy(self)
        term.corners = lbs.index.to(self.corners.device)[self.corners]
        if bool((term.corners < 0).any()):
            raise ValueError("the vertex subset lacks corners of this term's triangles")
        return term


# SPIN places the camera with the torso joints; neck and hips are ignored in its body stage (their definitions
# differ between OpenPose and SMPL). ``ignore`` makes that choice explicit.
TORSO = ("RShoulder", "LShoulder", "RHip", "LHip")
HIPS = ("MidHip", "RHip", "LHip")
#: the OpenPose joints SPIN's SMPLify leaves out of its body stage (their definitions differ from SMPL's)
SPIN_IGNORED = ("Neck", "RHip", "LHip")


class KeypointTerm(DataTerm):
    """OpenPose BODY_25 keypoints: ``Σ_j c_j² ρ(π(J_j) − x_j)`` (SMPLify's term), scaled by the person's size.

    ``keypoints`` [B,25,2] full-image pixels, ``confidence`` [B,25] in [0,1] (0 = missing), ``weight`` 5.0 as
    §4.1, ``ignore`` joint names left out of the body stage (default: the hips, whose OpenPose and SMPL
    definitions differ), ``min_confidence`` below which a keypoint counts as missing.
    """

    #: True for SPIN's term (:func:`spin_keypoint_term`): residuals in SPIN's 224-pixel crop, whose side
    #: :func:`dispkit.fit.smplify` sets from the ``spin_default`` preset's crop (:meth:`in_crop`)
    crop_relative: bool = False

    def __init__(self, keypoints, confidence=None, size=None, weight: float = 5.0, sigma: float = 100.0,
                 ignore=HIPS, min_confidence: float = 0.1):
        kp = torch.as_tensor(keypoints)
        if kp.ndim != 3 or kp.shape[1:] != (25, 2):
            raise ValueError(f"keypoints must be [B,25,2] (BODY_25 order), got {tuple(kp.shape)}")
        conf = torch.ones(kp.shape[:2], dtype=kp.dtype) if confidence is None else torch.as_tensor(confidence)
        conf = conf.to(device=kp.device, dtype=kp.dtype)
        if conf.shape != kp.shape[:2]:
            raise ValueError(f"confidence must be [B,25], got {tuple(conf.shape)}")
        finite = torch.isfinite(kp).all(-1) & torch.isfinite(conf)
        conf = torch.where(finite & (conf >= min_confidence), conf, torch.zeros_like(conf))
        self.keypoints = torch.where(finite[..., None], kp, torch.zeros_like(kp))
        bad = set(ignore) - set(OPENPOSE_NAMES)
        if bad:
            raise ValueError(f"unknown BODY_25 joints {sorted(bad)}; names are {OPENPOSE_NAMES}")
        keep = torch.tensor([n not in set(ignore) for n in OPENPOSE_NAMES], device=kp.device)
        torso = torch.tensor([n in TORSO for n in OPENPOSE_NAMES], device=kp.device)
        self.confidence = conf * keep
        self.torso_confidence = conf * torso
        self.valid = (self.confidence > 0).any(1)
        self.scale = person_scale(size, kp.shape[0], kp.device, kp.dtype)
        self.weight, self.sigma = float(weight), float(sigma)

    def _term(self, out, cam, conf):
        proj = cam.project(out.openpose)
        r = (proj - self.keypoints.to(proj.dtype)) * self.scale.to(proj.dtype)[:, None, None]
        rho = conf ** 2 * gmof(r, self.sigma).sum(-1)
        return self.weight * torch.where(conf > 0, rho, torch.zeros_like(rho)).sum(1)

    def loss(self, out, cam):
        return self._term(out, cam, self.confidence)

    def vertex_ids(self) -> torch.Tensor:  # the joints only (and the dozen vertices that make OpenPose's)
        return torch.zeros(0, dtype=torch.long, device=self.keypoints.device)

    def restricted(self, lbs) -> KeypointTerm:
        return self

    def camera_loss(self, out, cam):
        # the torso joints when they were detected, else every confident joint
        has_torso = (self.torso_confidence > 0).any(1, keepdim=True)
        conf = torch.where(has_torso, self.torso_confidence, self.confidence)
        return self._term(out, cam, conf)


class SpinKeypointTerm(KeypointTerm):
    """The keypoint term of SPIN's default SMPLify, with SPIN's conventions (made by :func:`spin_keypoint_term`).

    * Residuals are measured in SPIN's 224-pixel person crop: :func:`dispkit.fit.smplify` with the
      ``spin_default`` preset computes the crop and calls :meth:`in_crop`; used with any other fit it is refused.
    * Body stage: ``Σ_j c_j² ρ(π(J_j) − x_j)``, weight 1, confidences as given (no cut), Neck and both hips
      left out (:data:`SPIN_IGNORED`).
    * Camera stage: plain squared errors (no ρ, no confidence) of the four OpenPose torso joints (RHip, LHip,
      RShoulder, LShoulder) when all four are detected, else of the dataset's GT torso joints: ``gt_torso``
      [B,4,2] full-image pixels in that order, compared with the body model's own hip and shoulder joints. Without
      ``gt_torso`` SPIN's zero-filled GT keypoints are what it compares against: the crop's top-left corner.
    """

    crop_relative = True

    def __init__(self, keypoints, confidence=None, gt_torso=None):
        super().__init__(keypoints, confidence, size=None, weight=1.0, ignore=SPIN_IGNORED, min_confidence=0.0)
        self.all_torso = (self.torso_confidence[:, self._torso_index] > 0).all(1)              # [B]
        if gt_torso is not None:
            gt_torso = torch.as_tensor(gt_torso, device=self.keypoints.device, dtype=self.keypoints.dtype)
            if gt_torso.shape != (self.keypoints.shape[0], 4, 2):
                raise ValueError(f"gt_torso must be [B,4,2] (RHip, LHip, RShoulder, LShoulder), got "
                                 f"{tuple(gt_torso.shape)}")
        self.gt_torso = gt_torso
        self.crop_origin = None

    _torso_index = [OPENPOSE_NAMES.index(n) for n in ("RHip", "LHip", "RShoulder", "LShoulder")]
    #: the body model's joints SPIN's GT torso keypoints stand for (SMPL joint order)
    _model_torso = (2, 1, 17, 16)   # right_hip, left_hip, right_shoulder, left_shoulder

    def in_crop(self, box: torch.Tensor) -> SpinKeypointTerm:
        """A copy whose residuals are in pixels of the 224-pixel crop ``box`` [B,4] (full-image x0, y0, x1, y1)."""
        import copy

        term = copy.copy(self)
        side = (box[:, 2] - box[:, 0]).to(self.keypoints)
        term.scale = person_scale(side, self.keypoints.shape[0], self.keypoints.device, self.keypoints.dtype)
        term.crop_origin = box[:, :2].to(self.keypoints)
        return term

    def _check_crop(self):
        if self.crop_origin is None:
            raise ValueError("SPIN's keypoint term measures residuals in SPIN's 224-pixel crop: fit it with "
                             "dispkit.fit.smplify(..., config=FIT_PRESETS['spin_default']), which sets the crop")

    def loss(self, out, cam):
        self._check_crop()
        return super().loss(out, cam)

    def camera_loss(self, out, cam):
        self._check_crop()
        proj = cam.project(out.openpose[:, self._torso_index])
        r_op = (proj - self.keypoints[:, self._torso_index].to(proj.dtype)) * self.scale.to(proj.dtype)[:, None, None]
        model = cam.project(out.joints[:, list(self._model_torso)])
        gt = self.gt_torso if self.gt_torso is not None else self.crop_origin[:, None, :].expand(-1, 4, -1)
        r_gt = (model - gt.to(model.dtype)) * self.scale.to(model.dtype)[:, None, None]
        sq = torch.where(self.all_torso.to(proj.device)[:, None], (r_op ** 2).sum(-1), (r_gt ** 2).sum(-1))
        return self.weight * sq.sum(1)


def spin_keypoint_term(keypoints, confidence=None, gt_torso=None, **unexpected) -> SpinKeypointTerm:
    """The keypoint term of SPIN's default SMPLify (:class:`SpinKeypointTerm`; fit it with
    ``fit.FIT_PRESETS["spin_default"]``, which sets SPIN's 224-pixel crop). ``keypoints`` [B,25,2] full-image pixels,
    ``confidence`` [B,25] as the detector gives them, ``gt_torso`` [B,4,2] the camera stage's fallback."""
    if "size" in unexpected:
        raise TypeError("spin_keypoint_term takes no size: SPIN measures residuals in its 224-pixel crop, whose side "
                        "dispkit.fit.smplify sets from the spin_default preset")
    if unexpected:
        raise TypeError(f"unexpected arguments {sorted(unexpected)}")
    return SpinKeypointTerm(keypoints, confidence, gt_torso)


# elbows and knees in body_pose (axis-angle, 23 joints x 3): SMPLify's bending term, with its signs
_BEND_INDEX = (55 - 3, 58 - 3, 12 - 3, 15 - 3)
_BEND_SIGN = (1.0, -1.0, -1.0, -1.0)


def bending_term(body_pose: torch.Tensor) -> torch.Tensor:
    """``L_α = Σ_{elbows, knees} exp(θ_i)²`` (SMPLify's bending term on unnatural bends) [B]."""
    sign = torch.tensor(_BEND_SIGN, dtype=body_pose.dtype, device=body_pose.device)
    return torch.exp(body_pose[:, list(_BEND_INDEX)] * sign).pow(2).sum(-1)
