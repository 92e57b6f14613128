"""The whole method (Fig. 2): crop the person, render the estimate, predict the field, Eq. 5-6, SMPLify.

:func:`predicted_dense_term` is §3.1 + Eq. 5-6 for full images: the person is cropped around the initial
estimate (:func:`dispkit.camera.person_box`, the one crop rule of the kit), rendered there with the person's
texture, the network predicts the per-pixel field, and Eq. 5 and Eq. 6 turn it into 2D vertex targets of the
dense term (Eq. 7). :func:`refine` adds SMPLify (Eq. 4); :func:`refine_sequence` runs a video of one person: first
the texture, back-projected from the initial meshes (the paper back-projects with the annotated meshes of a reference
sequence; at test time without annotations the initial meshes are what there is), then every frame.

What a user passes is checked at the door (:mod:`dispkit.inputs`: one error type per kind of mistake; 8-bit
images are converted to [0, 1]). A frame whose initial estimate cannot be cropped (:func:`unusable_frames`:
behind or within :data:`NEAR` of the camera, less than :data:`MIN_IMAGE_OVERLAP` of its person box inside the
image, or smaller than :data:`MIN_PERSON_PIXELS`) gets no dense targets: SMPLify leaves it unchanged,
``fitted[b]`` is False and ``messages[b]`` says why.
"""
from __future__ import annotations

import numpy as np
import torch

from dispkit import inputs
from dispkit.body import BodyModel, default_body
from dispkit.camera import Camera, crop_image, person_box
from dispkit.checkpoints import check_body
from dispkit.fit import PARAM_NAMES, FitConfig, FitResult, smplify
from dispkit.net import load_pretrained
from dispkit.terms import DenseTerm, data_weight

__all__ = ["MIN_IMAGE_OVERLAP", "MIN_PERSON_PIXELS", "NEAR", "predicted_dense_term", "refine", "refine_sequence",
           "unusable_frames"]

#: a frame is not refined when less than this fraction of its person box (the projected initial mesh) is in the image
MIN_IMAGE_OVERLAP = 0.25
#: ... or when its person box is smaller than this (full-image pixels): too small to crop
MIN_PERSON_PIXELS = 4.0
#: ... or when a vertex of its initial mesh is behind the camera or closer to the camera plane than this (metres)
NEAR = 0.1


def unusable_frames(init_vertices: torch.Tensor, cam: Camera) -> list[str]:
    """Why each frame's initial mesh ``init_vertices`` [B,V,3] cannot be cropped for the network, ``""`` where it
    can: behind or within :data:`NEAR` of the camera, (mostly) outside the image (less than
    :data:`MIN_IMAGE_OVERLAP` of the person box inside) or too small (:data:`MIN_PERSON_PIXELS`)."""
    with torch.no_grad():
        near = cam.to_camera(init_vertices)[..., 2].amin(1)                     # [B] nearest depth
        proj = cam.project(init_vertices)               # meaningless for frames behind the camera: not used
    reasons = []
    for b in range(init_vertices.shape[0]):
        if not bool(near[b] > NEAR):
            reasons.append(f"the initial estimate is behind or too close to the camera (nearest vertex at depth "
                           f"{float(near[b]):.3g} m, needs > {NEAR:g} m): nothing to crop")
            continue
        lo, hi = proj[b].amin(0), proj[b].amax(0)
        if not bool(torch.isfinite(lo).all() and torch.isfinite(hi).all()):
            reasons.append("the initial estimate projects to non-finite pixels: nothing to crop")
            continue
        side = float((hi - lo).max())
        if side < MIN_PERSON_PIXELS:
            reasons.append(f"the initial estimate is {side:.2g} px across in the image, too small to crop "
                           f"(needs {MIN_PERSON_PIXELS:g} px)")
            continue
        cx, cy = float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2
        x0, y0, x1, y1 = cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2
        inside = max(0.0, min(x1, cam.width) - max(x0, 0.0)) * max(0.0, min(y1, cam.height) - max(y0, 0.0))
        frac = inside / side ** 2
        if frac < MIN_IMAGE_OVERLAP:
            reasons.append(f"the initial estimate projects outside the image: {frac:.0%} of its person box "
                           f"({x0:.4g}, {y0:.4g}, {x1:.4g}, {y1:.4g}) lies in the {cam.width}x{cam.height} image "
                           f"(needs {MIN_IMAGE_OVERLAP:.0%})")
            continue
        reasons.append("")
    return reasons


def _net(net):
    if isinstance(net, str):
        return load_pretrained(net)
    if not (callable(getattr(net, "predict", None)) and hasattr(getattr(net, "config", None), "crop")):
        raise inputs.InputTypeError(f"net must be a shipped network's name (e.g. 'cpu'), a checkpoint path or a "
                                    f"dispkit.net.DisplacementNet, got {type(net).__name__}")
    return net


def predicted_dense_term(image, init_vertices, cam: Camera, texture, body: BodyModel, net, box=None,
                         weight: float = 0.4, sigma: float = 100.0) -> tuple[DenseTerm, dict]:
    """§3.1 + Eq. 5-6 for full images: crop the person around the initial estimate, render it there with the
    person's texture, predict the per-pixel field, and turn it into the dense term (in full-image pixels).

    ``image`` [B,H,W,3] (or [H,W,3]) of the camera's size, float in [0,1] or ``uint8`` in [0,255] (converted to
    float / 255); ``init_vertices`` [B,V,3]; ``texture`` [S,S,3] or [B,S,S,3] (float in [0,1] or uint8);
    ``net`` a :class:`dispkit.net.DisplacementNet` or a name for :func:`dispkit.net.load_pretrained`;
    ``box`` [B,4] (default: 1.25 x the projected initial mesh, square). Returns ``(term, extras)`` with the
    crops, renderings, predicted field and box for inspection, and ``unusable`` [B]: why a frame has no dense
    targets (:func:`unusable_frames`; "" for the others). Bad inputs raise the errors of :mod:`dispkit.inputs`.
    """
    from dispkit.render import render

    image = inputs.check_image(image)
    B = image.shape[0]
    body = default_body(body)
    init_vertices = inputs.check_vertices(init_vertices, "init_vertices", B=B, V=body.num_vertices)
    inputs.check_camera_batch(cam, B, what="the images' batch")
    inputs.check_image_camera(image, cam)
    texture = inputs.check_texture(texture, B)
    weight = inputs.check_number(weight, "weight", lo=0.0)
    sigma = inputs.check_number(sigma, "sigma", lo=0.0, open_lo=True)
    model = _net(net)
    check_body(model, body)
    S = model.config.crop
    unusable = unusable_frames(init_vertices, cam)
    bad = torch.tensor([bool(r) for r in unusable])
    with torch.no_grad():
        person = torch.tensor([[0.0, 0.0, cam.width, cam.height]]).repeat(B, 1).to(init_vertices)
        good = (~bad).nonzero().flatten()
        if len(good):  # the person's extent (scale 1) and the crop (CROP_SCALE), from the frames that have one
            cams = cam.index(good) if cam.batch_size > 1 else cam
            person[good] = person_box(cams, init_vertices[good], scale=1.0).to(person)
        if box is None:
            box = person.clone()
            if len(good):
                box[good] = person_box(cams, init_vertices[good]).to(box)
        else:
            box = inputs.check_box(box, B).to(init_vertices)
        crops = crop_image(image.permute(0, 3, 1, 2), box, (S, S))
        views = render(init_vertices, body, cam, texture=texture, box=box, size=(S, S))
        field = model.predict(crops, views)
    side = (box[:, 2] - box[:, 0]).to(field.dtype)
    # frames that cannot be cropped get no visible vertex (no dense target): smplify leaves them unchanged
    face_index = torch.where(bad[:, None, None].to(views["face_index"].device), -1, views["face_index"])
    term = DenseTerm.from_field(field, face_index, views["bary"], body.faces, init_vertices, cam,
                                size=(person[:, 2] - person[:, 0]).to(field.dtype), scale=S / side, weight=weight,
                                sigma=sigma)
    return term, {"crops": crops, "views": views, "field": field, "box": box, "unusable": unusable}


def refine(image, init: dict, cam: Camera, texture, net="cpu", prior="gmm", body: BodyModel | None = None,
           config: FitConfig | None = None, progress: bool = False) -> FitResult:
    """The whole method in one call: predict the dense displacements of the initial estimate ``init`` in
    ``image`` (§3.1), convert them to 2D vertex targets (Eq. 5, Eq. 6) and refine with SMPLify and the dense
    term (Eq. 4, Eq. 7), weighted as §4.1 for the prior (0.4 with GMM and VPoser, 0.04 with the cNF;
    :func:`dispkit.terms.data_weight`).

    ``image`` [B,H,W,3] (or [H,W,3]) full images, float in [0, 1] or ``uint8`` in [0, 255] (converted to
    float / 255); ``init`` the four SMPL parameters [B,...]; ``cam`` their full-image camera (batch 1 or B, the
    images' size); ``texture`` [S,S,3] or [B,S,S,3]. A frame whose estimate cannot be cropped
    (:func:`unusable_frames`: behind the camera, outside the image, too small) is returned unchanged with
    ``fitted[b] = False`` and the reason in ``messages[b]``. Bad inputs raise the errors of :mod:`dispkit.inputs`.
    """
    body = default_body(body)
    image = inputs.check_image(image)
    params = inputs.check_params(init, body, B=image.shape[0])
    inputs.check_camera_batch(cam, image.shape[0], what="the images' batch")  # every check before any work
    inputs.check_image_camera(image, cam)
    texture = inputs.check_texture(texture, image.shape[0])
    net = _net(net)
    if config is not None and not isinstance(config, FitConfig):
        raise inputs.InputTypeError(f"config must be a dispkit.fit.FitConfig, got {type(config).__name__}")
    with torch.no_grad():
        init_vertices = body(**params).vertices
    term, extras = predicted_dense_term(image, init_vertices, cam, texture, body, net,
                                        weight=data_weight("dense", prior))   # §4.1: 0.4, 0.04 with the cNF
    result = smplify(body, params, cam, term, prior=prior, config=config, progress=progress)
    for b, why in enumerate(extras["unusable"]):
        if why:
            result.fitted[b] = False
            result.messages[b] = f"{why}; left unchanged"
    result.inputs = extras
    return result


def refine_sequence(images, init: dict, cam: Camera, net="cpu", prior="gmm", body: BodyModel | None = None,
                    config: FitConfig | None = None, texture_frames: int = 8, texture_size: int = 256,
                    batch: int = 8, progress: bool = True, texture=None) -> FitResult:
    """:func:`refine` over a sequence of one person (§4): first the person's
    texture is back-projected (:func:`dispkit.texture.estimate_texture`) from ``texture_frames`` evenly spaced
    frames with the *initial* meshes (the GT is unknown at test time), then every frame is refined in batches
    of ``batch``. ``images``: [T,H,W,3], float in [0,1] or ``uint8`` (converted to float / 255), or a sequence of
    T frames ``[H,W,3]`` read one at a time (``len()`` and ``[t]``, e.g. a list or a reader of a video's frames:
    only the texture frames and one batch are in memory at once); ``init`` params [T,...]; ``cam`` batch 1 or T.
    ``texture``: a texture already estimated for this person (e.g. ``inputs["texture"]`` of an earlier call with
    another prior) instead of estimating it again. Returns one :class:`FitResult` over all frames; ``inputs``
    holds ``texture``, ``texture_info`` and ``texture_frames`` (the frames it was estimated from; None when given).
    Bad inputs raise the errors of
    :mod:`dispkit.inputs`.
    """
    from tqdm.auto import tqdm

    from dispkit.texture import estimate_texture

    body = default_body(body)
    if isinstance(images, (torch.Tensor, np.ndarray)):
        images = inputs.check_image(images, "images", layout="[T,H,W,3]", single=False)
        T = images.shape[0]

        def frames(idx):
            return images[idx]
    else:
        if not (hasattr(images, "__len__") and hasattr(images, "__getitem__")):
            raise inputs.InputTypeError(f"images must be a [T,H,W,3] tensor or array, or a sequence of [H,W,3] "
                                        f"frames (len() and [t]), got {type(images).__name__}")
        T = len(images)
        if T == 0:
            raise inputs.EmptyBatchError("images holds no frame: a sequence needs at least one")

        def frames(idx):
            read = [inputs.check_image(images[int(t)], f"images[{int(t)}]", layout="[H,W,3]") for t in idx]
            for t, im in zip(idx, read):
                if im.shape[0] != 1:
                    raise inputs.InputShapeError(f"images[{int(t)}] must be one frame [H,W,3], got "
                                                 f"{tuple(im.shape)}")
                inputs.check_image_camera(im, cams, f"images[{int(t)}]")
            return torch.cat(read)
    init = inputs.check_params(init, body, B=T)
    inputs.check_camera_batch(cam, T, what="the number of frames")
    texture_frames = inputs.check_int(texture_frames, "texture_frames", lo=1)
    texture_size = inputs.check_int(texture_size, "texture_size", lo=1, hi=8192)
    batch = inputs.check_int(batch, "batch", lo=1)
    cams = cam.expand(T) if cam.batch_size == 1 else cam
    model = _net(net)  # loaded once for every batch
    pick = torch.linspace(0, T - 1, min(int(texture_frames), T)).round().long().unique()
    if texture is None:
        with torch.no_grad():
            verts = body(**{k: init[k][pick] for k in PARAM_NAMES}).vertices
        first = frames(pick)
        inputs.check_image_camera(first, cams, "images")
        tex, info = estimate_texture(first, verts, cams.index(pick), body, size=texture_size)
        del first
    else:
        tex, info = inputs.check_texture(texture), {"given": True}
        if tex.shape[0] != 1:
            raise inputs.InputShapeError(f"texture: one person's texture [Ht,Wt,3] for the whole sequence, got "
                                         f"{tuple(tex.shape)}")
        tex = tex[0]
    parts = []
    for c0 in tqdm(range(0, T, batch), desc="refine", disable=not progress):
        idx = torch.arange(c0, min(T, c0 + batch))
        chunk = frames(idx)
        inputs.check_image_camera(chunk, cams, "images")
        parts.append(refine(chunk, {k: init[k][idx] for k in PARAM_NAMES}, cams.index(idx),
                            tex, net=model, prior=prior, body=body, config=config))
    out = FitResult(params={k: torch.cat([r.params[k] for r in parts]) for k in parts[0].params},
                    vertices=torch.cat([r.vertices for r in parts]), joints=torch.cat([r.joints for r in parts]),
                    fitted=torch.cat([r.fitted for r in parts]), messages=sum((r.messages for r in parts), []),
                    seconds=sum(r.seconds for r in parts),
                    losses={s: torch.cat([r.losses[s] for r in parts], 1) for s in parts[0].losses})
    out.inputs = {"texture": tex, "texture_info": info, "texture_frames": pick if texture is None else None}
    return out
