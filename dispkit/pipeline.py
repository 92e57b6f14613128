"""The whole method (Fig. 2): crop the person, render the estimate, predict the field, Eq. 5-6, SMPLify.

:func:`predicted_dense_term` is §3.1 + Eq. 5-6 for full images: the person is cropped around the initial
estimate (:func:`dispkit.camera.person_box`, the one crop rule of the kit), rendered there with the person's
texture, the network predicts the per-pixel field, and Eq. 5 and Eq. 6 turn it into 2D vertex targets of the
dense term (Eq. 7). :func:`refine` adds SMPLify (Eq. 4); :func:`refine_sequence` runs a video of one person the
paper's way, with the texture back-projected from the initial meshes first.
"""
from __future__ import annotations

import torch

from dispkit.body import BodyModel, default_body
from dispkit.camera import Camera, crop_image, person_box, person_crop
from dispkit.fit import PARAM_NAMES, FitConfig, FitResult, smplify
from dispkit.net import load_pretrained
from dispkit.terms import DenseTerm

__all__ = ["predicted_dense_term", "refine", "refine_sequence"]


def predicted_dense_term(image, init_vertices, cam: Camera, texture, body: BodyModel, net, box=None,
                         weight: float = 0.4, sigma: float = 100.0) -> tuple[DenseTerm, dict]:
    """§3.1 + Eq. 5-6 for full images: crop the person around the initial estimate, render it there with the
    person's texture, predict the per-pixel field, and turn it into the dense term (in full-image pixels).

    ``image`` [B,H,W,3] in [0,1]; ``init_vertices`` [B,V,3]; ``texture`` [S,S,3] or [B,S,S,3];
    ``net`` a :class:`dispkit.net.DisplacementNet` or a name for :func:`dispkit.net.load_pretrained`;
    ``box`` [B,4] (default: 1.25 x the projected initial mesh, square). Returns ``(term, extras)`` with the
    crops, renderings, predicted field and box for inspection.
    """
    from dispkit.render import render

    model = load_pretrained(net) if isinstance(net, str) else net
    S = model.config.crop
    image = torch.as_tensor(image)
    if image.ndim != 4 or image.shape[-1] != 3:
        raise ValueError(f"image must be [B,H,W,3], got {tuple(image.shape)}")
    with torch.no_grad():
        if box is None:
            crops, box = person_crop(image.permute(0, 3, 1, 2).float(), cam, init_vertices, S)
        else:
            crops = crop_image(image.permute(0, 3, 1, 2).float(), box, (S, S))
        views = render(init_vertices, body, cam, texture=texture, box=box, size=(S, S))
        field = model.predict(crops, views)
        person = person_box(cam, init_vertices, scale=1.0)  # the person's extent, whatever the box
    side = (box[:, 2] - box[:, 0]).to(field.dtype)
    term = DenseTerm.from_field(field, views["face_index"], views["bary"], body.faces, init_vertices, cam,
                                size=(person[:, 2] - person[:, 0]).to(field.dtype), scale=S / side, weight=weight,
                                sigma=sigma)
    return term, {"crops": crops, "views": views, "field": field, "box": box}


def refine(image, init: dict, cam: Camera, texture, net="cpu", prior="gmm", body: BodyModel | None = None,
           config: FitConfig | None = None, progress: bool = False) -> FitResult:
    """The whole method in one call: predict the dense displacements of the initial estimate ``init`` in
    ``image`` (§3.1), convert them to 2D vertex targets (Eq. 5, Eq. 6) and refine with SMPLify and the dense
    term (Eq. 4, Eq. 7). ``image`` [B,H,W,3] (or [H,W,3]) full images, ``cam`` their full-image camera."""
    body = default_body(body)
    image = torch.as_tensor(image)
    image = image[None] if image.ndim == 3 else image
    with torch.no_grad():
        init_vertices = body(**{k: init[k] for k in PARAM_NAMES}).vertices
    term, extras = predicted_dense_term(image, init_vertices, cam, texture, body, net)
    result = smplify(body, init, cam, term, prior=prior, config=config, progress=progress)
    result.inputs = extras
    return result


def refine_sequence(images, init: dict, cam: Camera, net="cpu", prior="gmm", body: BodyModel | None = None,
                    config: FitConfig | None = None, texture_frames: int = 8, texture_size: int = 256,
                    batch: int = 8, progress: bool = True) -> FitResult:
    """:func:`refine` over a sequence of one person, the way the paper runs on video (§4): first the person's
    texture is back-projected (:func:`dispkit.texture.estimate_texture`) from ``texture_frames`` evenly spaced
    frames with the *initial* meshes (the GT is unknown at test time), then every frame is refined in batches
    of ``batch``. ``images`` [T,H,W,3] in [0,1]; ``init`` params [T,...]; ``cam`` batch 1 or T. Returns one
    :class:`FitResult` over all frames; ``inputs`` holds ``texture`` and ``texture_info``.
    """
    from tqdm.auto import tqdm

    from dispkit.texture import estimate_texture

    body = default_body(body)
    images = torch.as_tensor(images).float()
    T = images.shape[0]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be [T,H,W,3], got {tuple(images.shape)}")
    for k in PARAM_NAMES:
        if init[k].shape[0] != T:
            raise ValueError(f"init[{k!r}] has {init[k].shape[0]} frames, the images {T}")
    cams = cam.expand(T) if cam.batch_size == 1 else cam
    with torch.no_grad():
        verts = body(**{k: init[k] for k in PARAM_NAMES}).vertices
    model = load_pretrained(net) if isinstance(net, str) else net  # loaded once for every batch
    pick = torch.linspace(0, T - 1, min(int(texture_frames), T)).round().long().unique()
    tex, info = estimate_texture(images[pick], verts[pick], cams.index(pick), body, size=texture_size)
    parts = []
    for c0 in tqdm(range(0, T, batch), desc="refine", disable=not progress):
        idx = torch.arange(c0, min(T, c0 + batch))
        parts.append(refine(images[idx], {k: init[k][idx] for k in PARAM_NAMES}, cams.index(idx),
                            tex, net=model, prior=prior, body=body, config=config))
    out = FitResult(params={k: torch.cat([r.params[k] for r in parts]) for k in parts[0].params},
                    vertices=torch.cat([r.vertices for r in parts]), joints=torch.cat([r.joints for r in parts]),
                    fitted=torch.cat([r.fitted for r in parts]), messages=sum((r.messages for r in parts), []),
                    seconds=sum(r.seconds for r in parts),
                    losses={s: torch.cat([r.losses[s] for r in parts], 1) for s in parts[0].losses})
    out.inputs = {"texture": tex, "texture_info": info, "texture_frames": pick}
    return out
