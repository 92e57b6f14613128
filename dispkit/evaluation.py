"""One evaluation layer (§4): the inputs of every method for a batch of scenes, the fits, and their scores.

Used alike by ``benchmarks/tables.py``, ``texture_ablation.py``, ``bench_net.py`` and notebooks 05, 07 and 08, so
that a number in a notebook and the same number in a benchmark come from one code path.

* :class:`Batch` -- scenes of one split stacked over B (one camera), with GT / initial bodies and person sizes.
* :func:`detector_terms` -- the baselines' data terms: ``OP GT`` and ``Ours GT`` (Table 2), ``OP`` (the simulated
  OpenPose, :func:`dispkit.data.observations.simulate_openpose`, BODY_25), ``OP (COCO-18)``, ``OP*`` (the same
  detections for SPIN's default SMPLify), ``OP (oracle)`` (the old error-aware detector, a sensitivity setting),
  ``BlazePose`` (a real detector, :mod:`dispkit.detectors`, on the scenes' images) and ``DP`` (simulated
  DensePose).
* :func:`predicted_terms` -- ``Ours``: the network's field through :func:`dispkit.pipeline.predicted_dense_term`,
  its EPE against the GT field, and what-if rows with a scaled error.
* :func:`fit_rows` / :func:`evaluate_split` -- SMPLify per method and prior, scored with the six metrics.
* :func:`network_epe` -- the network's end-point error on a split against the zero field.
* :func:`calibrate_level` -- one detector noise level chosen to reproduce a published ratio.
* :func:`texture_ablation` -- Table 3: the network's texture input varied (:data:`TEXTURE_VARIANTS`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from dispkit.body import BodyModel, BodyOutput, default_body
from dispkit.camera import Camera, person_box
from dispkit.data import observations as obs
from dispkit.fit import FIT_PRESETS, PARAM_NAMES, FitConfig, smplify
from dispkit.metrics import evaluate
from dispkit.terms import DensePoseTerm, DenseTerm, KeypointTerm, data_weight, spin_keypoint_term
from dispkit.texture import degrade

__all__ = ["DETECTOR_METHODS", "KIND", "METRICS", "TEXTURE_VARIANTS", "Batch", "batches", "calibrate_level",
           "detector_terms", "evaluate_split", "fit_rows", "mean_rows", "network_epe", "predicted_terms", "row_name",
           "texture_ablation", "texture_variant"]

METRICS = ("MPJPE", "PA-MPJPE", "N-MPJPE", "PVE", "PA-PVE", "N-PVE")
#: the data term kind of each method (for :data:`dispkit.terms.DATA_WEIGHTS`)
KIND = {"OP GT": "keypoints", "Ours GT": "dense", "OP": "keypoints", "OP (COCO-18)": "keypoints", "OP*": "keypoints",
        "OP (oracle)": "keypoints", "DP": "densepose", "Ours": "dense", "BlazePose": "keypoints"}
DETECTOR_METHODS = ("OP GT", "Ours GT", "OP", "OP (COCO-18)", "OP*", "OP (oracle)", "DP", "BlazePose")


@dataclass
class Batch:
    """Scenes of one split stacked over B: the shared camera, GT and initial parameters and bodies, person sizes
    (the side of the initial estimate's projected extent, pixels) and seeds."""

    scenes: list
    cam: Camera
    gt: dict
    init: dict
    go: BodyOutput
    io: BodyOutput
    size: torch.Tensor
    seeds: list

    @classmethod
    def from_scenes(cls, scenes, body: BodyModel) -> Batch:
        if not scenes:
            raise ValueError("a batch needs at least one scene")
        sizes = {(s.width, s.height) for s in scenes}
        if len(sizes) != 1:
            raise ValueError(f"the scenes of a batch must share one image size, got {sorted(sizes)}")
        gt = {k: torch.cat([s.gt[k] for s in scenes]) for k in PARAM_NAMES}
        init = {k: torch.cat([s.init[k] for s in scenes]) for k in PARAM_NAMES}
        cam = scenes[0].camera
        with torch.no_grad():
            go, io = body(**gt), body(**init)
        box = person_box(cam, io.vertices, scale=1.0)
        return cls(list(scenes), cam, gt, init, go, io, box[:, 2] - box[:, 0], [s.seed for s in scenes])

    def __len__(self) -> int:
        return len(self.scenes)


def batches(scenes, body: BodyModel, size: int = 10):
    """:class:`Batch` es of up to ``size`` consecutive scenes."""
    scenes = list(scenes)
    for c0 in range(0, len(scenes), size):
        yield Batch.from_scenes(scenes[c0:c0 + size], body)


def row_name(prior: str, method: str) -> str:
    """The table row of a fit: ``+GMM (OP)``."""
    return f"+{prior.split(':')[0].upper()} ({method})"


def _rng(batch: Batch, salt: int) -> np.random.Generator:
    return np.random.default_rng([*batch.seeds, salt])


def detector_terms(batch: Batch, body: BodyModel, methods=DETECTOR_METHODS, openpose_level: float | None = None,
                   densepose_level: float | None = None, definition=None, openpose_structure=None) -> dict:
    """The baselines' data terms for a batch (see the module docstring); detections are seeded by the scenes.
    ``openpose_structure``: the simulated OpenPose's :class:`~dispkit.data.observations.ErrorStructure` (default:
    its own)."""
    methods = set(methods)
    unknown = methods - set(DETECTOR_METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; detector methods are {DETECTOR_METHODS}")
    cam, go, io, size = batch.cam, batch.go, batch.io, batch.size
    terms = {}
    if "OP GT" in methods:
        terms["OP GT"] = KeypointTerm(*obs.gt_keypoints(go.openpose, cam), size=size)
    if "Ours GT" in methods:
        terms["Ours GT"] = obs.gt_dense_term(body, go.vertices, io.vertices, cam, size=size)
    need_render = methods & {"OP", "OP (COCO-18)", "OP*", "DP"}
    if need_render:
        from dispkit.render import render

        views = render(go.vertices, body, cam, modalities=("depth", "mask", "face_index", "bary"))
        definition = definition or obs.DetectorDefinition(body)
    if methods & {"OP", "OP*"}:
        kp = obs.simulate_openpose(body, go.vertices, cam, size, _rng(batch, 1), level=openpose_level, views=views,
                                   definition=definition, structure=openpose_structure)
        if "OP" in methods:
            terms["OP"] = KeypointTerm(*kp, size=size)
        if "OP*" in methods:
            terms["OP*"] = spin_keypoint_term(*kp)   # SPIN's crop: set by the fit
    if "OP (COCO-18)" in methods:
        kp = obs.simulate_openpose(body, go.vertices, cam, size, _rng(batch, 1), level=openpose_level, views=views,
                                   definition=definition, mode="coco18")
        terms["OP (COCO-18)"] = KeypointTerm(*kp, size=size)
    if "OP (oracle)" in methods:
        kp = obs.simulate_keypoints_oracle(cam.project(go.openpose), size, _rng(batch, 2))
        terms["OP (oracle)"] = KeypointTerm(*kp, size=size)
    if "BlazePose" in methods:  # the real detector on the scenes' images (dispkit.detectors; cached per image)
        from dispkit.detectors import BlazePose

        kp, conf = BlazePose()(torch.stack([s.image for s in batch.scenes]))
        terms["BlazePose"] = KeypointTerm(kp.to(cam.dtype), conf.to(cam.dtype), size=size)
    if "DP" in methods:
        dp = obs.simulate_densepose(views, size, generator=_rng(batch, 3), level=densepose_level, body=body)
        terms["DP"] = DensePoseTerm(dp["pixels"], dp["face_index"], dp["bary"], body.faces, dp["valid"], size=size)
    return terms


def predicted_terms(batch: Batch, body: BodyModel, net, textures=None, error_scales=(), name: str = "Ours") -> tuple:
    """``Ours`` for a batch: the network's predicted field (the person's ``textures`` [B,S,S,3], default: each
    scene's texture back-projected from 4 other frames, §4) turned into the dense term, plus what-if terms
    ``"Ours, error xA"`` (the GT field seen through the same crop plus A x the network's per-pixel error).
    Returns ``(terms, info)``; ``info`` has the EPE sums in full-image pixels (``epe_sum``, ``zero_sum``,
    ``pixels``), the GT field in the network's crop (``gt_field`` [B,S,S,2], Eq. 1 + 2) and the pipeline's extras."""
    from dispkit.displacement import pixel_field, vertex_displacements
    from dispkit.pipeline import predicted_dense_term
    from dispkit.texture import scene_texture

    if textures is None:
        textures = torch.stack([scene_texture(s, body=body)[0] for s in batch.scenes])
    image = torch.stack([s.image for s in batch.scenes])
    term, ex = predicted_dense_term(image, batch.io.vertices, batch.cam, textures, body, net)
    v = ex["views"]
    scale = net.config.crop / (ex["box"][:, 2] - ex["box"][:, 0])                 # crop px per full-image px
    gt_field = pixel_field(vertex_displacements(batch.go.vertices, batch.io.vertices, v["camera"]),
                           v["face_index"], v["bary"], body.faces)
    mask = v["mask"]
    err = (ex["field"] - gt_field).norm(dim=-1) / scale[:, None, None]
    info = {"epe_sum": float(err[mask].sum()), "zero_sum": float((gt_field.norm(dim=-1) / scale[:, None, None])[mask]
                                                                  .sum()), "pixels": int(mask.sum()), "extras": ex,
            "gt_field": gt_field}
    terms = {name: term}
    for a in error_scales:
        terms[f"{name}, error x{a:g}"] = DenseTerm.from_field(
            gt_field + a * (ex["field"] - gt_field), v["face_index"], v["bary"], body.faces, batch.io.vertices,
            batch.cam, size=batch.size, scale=scale)
    return terms, info


def _per_frame(out_vertices, out_joints, batch: Batch) -> dict:
    m = evaluate(out_vertices, batch.go.vertices, out_joints, batch.go.joints, per_frame=True)
    return {k: m[k].tolist() for k in METRICS}


def fit_rows(batch: Batch, body: BodyModel, terms: dict, priors=("gmm",), config: FitConfig | None = None,
             gt_methods_priors=("gmm",), kind: str | None = None, keep: dict | None = None,
             spin_config: FitConfig | None = None, progress: bool = False) -> dict:
    """SMPLify every term with every prior (the GT inputs of Table 2 with ``gt_methods_priors`` only; ``OP*`` with
    GMM and SPIN's default fit, ``spin_config`` or :data:`dispkit.fit.FIT_PRESETS`), weighted by
    :data:`DATA_WEIGHTS` (``kind``: the data-term kind of every term, default from the method's name, :data:`KIND`).
    Returns
    ``{row: {metric: [per-frame values], "seconds": [...], "fitted": [...]}}`` with an ``init`` row; ``keep``: a
    dict that receives every :class:`~dispkit.fit.FitResult` by row name (for pictures); ``progress``: a bar over the
    fits (notebooks)."""
    from tqdm.auto import tqdm

    rows = {"init": _per_frame(batch.io.vertices, batch.io.joints, batch)}
    plans = {}
    for method in terms:
        base = method.split(",")[0]
        if base == "OP*":
            plans[method] = [("gmm", spin_config or FIT_PRESETS["spin_default"])]
        elif base.endswith("GT"):
            plans[method] = [(p, config) for p in gt_methods_priors]
        else:
            plans[method] = [(p, config) for p in priors]
    bar = tqdm(total=sum(map(len, plans.values())), desc="SMPLify fits", disable=not progress)
    for method, term in terms.items():
        base = method.split(",")[0]
        kind_ = kind or KIND[base]
        for prior, cfg in plans[method]:
            if base != "OP*":
                term.weight = data_weight(kind_, prior)
            t0 = time.perf_counter()
            r = smplify(body, batch.init, batch.cam, term, prior=prior, config=cfg)
            row = _per_frame(r.vertices, r.joints, batch)
            row["seconds"] = [(time.perf_counter() - t0) / len(batch)] * len(batch)
            row["fitted"] = r.fitted.tolist()
            rows[row_name(prior, method)] = row
            if keep is not None:
                keep[row_name(prior, method)] = r
            bar.set_postfix_str(row_name(prior, method))
            bar.update(1)
    bar.close()
    return rows


def _extend(acc: dict, rows: dict) -> None:
    for name, row in rows.items():
        dst = acc.setdefault(name, {k: [] for k in row})
        for k, v in row.items():
            dst.setdefault(k, []).extend(v)


def mean_rows(per_frame: dict) -> dict:
    """Per-frame rows -> means (``seconds`` becomes ``s_per_frame``, ``fitted`` the fraction fitted)."""
    out = {}
    for name, row in per_frame.items():
        r = {k: float(np.mean(row[k])) for k in METRICS if k in row}
        if "seconds" in row:
            r["s_per_frame"] = float(np.mean(row["seconds"]))
        if "fitted" in row:
            r["fitted"] = float(np.mean(row["fitted"]))
        out[name] = r
    return out


def evaluate_split(scenes, body: BodyModel | None = None, methods=("OP GT", "Ours GT", "OP", "DP", "Ours"),
                   priors=("gmm", "vposer", "cnf"), net=None, config: FitConfig | None = None, batch_size: int = 10,
                   error_scales=(), openpose_level: float | None = None, densepose_level: float | None = None,
                   progress: bool = True, desc: str = "scenes", spin_config: FitConfig | None = None,
                   openpose_structure=None) -> dict:
    """Every method and prior on a list of scenes: ``{"rows": {row: means}, "per_frame": ..., "epe_px": ...}``.
    ``Ours`` needs ``net``. A progress bar counts the scenes."""
    from tqdm.auto import tqdm

    body = default_body(body)
    methods = list(methods)
    det = [m for m in methods if m in DETECTOR_METHODS]
    if "Ours" in methods and net is None:
        raise ValueError("method 'Ours' needs a network (net=)")
    per, epe = {}, [0.0, 0.0, 0]
    bar = tqdm(total=len(scenes), desc=desc, disable=not progress)
    for batch in batches(scenes, body, batch_size):
        terms = detector_terms(batch, body, det, openpose_level, densepose_level,
                               openpose_structure=openpose_structure)
        if "Ours" in methods:
            more, info = predicted_terms(batch, body, net, error_scales=error_scales)
            terms.update(more)
            epe[0] += info["epe_sum"]
            epe[1] += info["zero_sum"]
            epe[2] += info["pixels"]
        _extend(per, fit_rows(batch, body, terms, priors, config, spin_config=spin_config))
        bar.update(len(batch))
    bar.close()
    out = {"rows": mean_rows(per), "per_frame": per, "n_scenes": len(scenes)}
    if epe[2]:
        out["epe_px"] = {"Ours": epe[0] / epe[2], "zero field": epe[1] / epe[2]}
    return out


def network_epe(scenes, models: dict, body: BodyModel | None = None, texture: str = "backprojected",
                progress: bool = True) -> dict:
    """The networks' end-point error on scenes, in full-image pixels over every rendered pixel, beside the zero
    field (predicting no displacement). ``models``: name -> network; ``texture``: ``"backprojected"`` (the person's
    texture estimated from 4 other frames, §4) or ``"simulated"`` (the scene's degraded texture). Returns
    ``{"zero_field_epe_px": {crop: px}, name: {"epe_px", "zero_field_epe_px", "ratio_to_zero_field",
    "scene_ratio_median", "scenes_worse_than_zero_field", "inference_ms_per_frame"}}``: the ratio over all pixels
    of the split (large people weigh more) and the median of the per-scene ratios (each scene once)."""
    from tqdm.auto import tqdm

    from dispkit.data.training import scene_sample
    from dispkit.texture import scene_texture

    body = default_body(body)
    crops = {m.config.crop for m in models.values()} or {64}
    sums = dict.fromkeys(models, 0.0)
    zero, count = dict.fromkeys(crops, 0.0), dict.fromkeys(crops, 0)
    times = {name: [] for name in models}
    per_scene = {name: [] for name in models}  # each scene's EPE / its zero-field EPE (means over its pixels)
    for scene in tqdm(scenes, desc="network EPE", disable=not progress):
        tex = scene_texture(scene, body=body)[0] if texture == "backprojected" else None
        samples = {c: scene_sample(scene, c, body, texture=tex) for c in crops}
        for c, s in samples.items():
            m = s["mask"]
            zero[c] += float((s["field"][m].norm(dim=-1) / s["scale"]).sum())
            count[c] += int(m.sum())
        for name, model in models.items():
            s = samples[model.config.crop]
            views = {key: s[key][None] for key in ("rgb", "depth", "normal", "vertex_color", "mask")}
            t0 = time.perf_counter()
            pred = model.predict(s["image"][None], views)[0]
            times[name].append(time.perf_counter() - t0)
            e = float(((pred - s["field"])[s["mask"]].norm(dim=-1) / s["scale"]).sum())
            sums[name] += e
            z = float((s["field"][s["mask"]].norm(dim=-1) / s["scale"]).sum())
            per_scene[name].append(e / z if z > 0 else float("nan"))
    out = {"zero_field_epe_px": {c: zero[c] / max(count[c], 1) for c in crops}}
    for name, model in models.items():
        c = model.config.crop
        e, base = sums[name] / max(count[c], 1), zero[c] / max(count[c], 1)
        ratios = np.array(per_scene[name])
        out[name] = {"epe_px": e, "zero_field_epe_px": base, "ratio_to_zero_field": e / base if base else None,
                     "scene_ratio_median": float(np.nanmedian(ratios)) if len(ratios) else None,
                     "scenes_worse_than_zero_field": int((ratios > 1).sum()),
                     "inference_ms_per_frame": 1e3 * float(np.median(times[name])) if times[name] else None}
    return out


def calibrate_level(scenes, body: BodyModel | None = None, detector: str = "openpose", target_ratio: float = 1.085,
                    prior: str = "gmm", config: FitConfig | None = None, lo: float = 0.0, hi: float = 4.0,
                    iters: int = 7, batch_size: int = 10, progress: bool = True, openpose_structure=None) -> dict:
    """The one noise level of a simulated detector for which SMPLify (``prior``) on its detections ends at
    ``target_ratio`` x the initial MPJPE (the paper's ratio, e.g. PARE + GMM (OP) on 3DPW: 80.8 / 74.5 = 1.085),
    by bisection over ``[lo, hi]`` on ``scenes`` (calibration scenes, apart from every evaluation split).
    Returns ``{"level", "ratio", "target_ratio", "trace": [(level, ratio), ...]}``."""
    from tqdm.auto import tqdm

    body = default_body(body)
    method = {"openpose": "OP", "densepose": "DP"}[detector]
    bs = list(batches(scenes, body, batch_size))
    init = float(np.mean(sum((_per_frame(b.io.vertices, b.io.joints, b)["MPJPE"] for b in bs), [])))

    def ratio(level):
        vals = []
        for b in bs:
            kw = ({"openpose_level": level, "openpose_structure": openpose_structure} if detector == "openpose"
                  else {"densepose_level": level})
            terms = detector_terms(b, body, [method], **kw)
            vals += fit_rows(b, body, terms, [prior], config)[row_name(prior, method)]["MPJPE"]
        return float(np.mean(vals)) / init

    trace = []
    bar = tqdm(range(iters), desc=f"calibrating {detector}", disable=not progress)
    for _ in bar:
        mid = (lo + hi) / 2
        r = ratio(mid)
        trace.append((mid, r))
        bar.set_postfix(level=f"{mid:.3f}", ratio=f"{r:.3f}")
        lo, hi = (mid, hi) if r < target_ratio else (lo, mid)
    best = min(trace, key=lambda t: abs(t[1] - target_ratio))
    return {"level": best[0], "ratio": best[1], "target_ratio": target_ratio, "init_mpjpe": init,
            "trace": trace, "prior": prior, "n_scenes": len(scenes)}


# --------------------------------------------------------------------------- Table 3: texture ablations

#: the inputs of Table 3: the network's texture input varied, and the two networks trained without one
TEXTURE_VARIANTS = ("full (estimated texture)", "+ noise N(0,10)", "+ noise N(0,30)", "+ brightness N(0,25)",
                    "+ brightness N(0,50)", "wrong texture", "no texture", "texture only")


def _other_person(scene, body):
    """Another person's back-projected texture for a one-scene ablation (the scene with the next seed)."""
    from dispkit.data.synthetic import make_scene
    from dispkit.texture import scene_texture

    other = make_scene(scene.seed + 1, "pare-like", scene.width, scene.height, body=body)
    return scene_texture(other, 4, body=body)[0]


def texture_variant(name: str, est, wrong, seeds):
    """(checkpoint name, textures [B,S,S,3]) of a Table 3 variant: ``est`` the back-projected textures, ``wrong``
    another person's, ``seeds`` the scenes' seeds (for the degradations' noise)."""
    if name.startswith("+ noise"):
        sigma = float(name.split("(0,")[1].rstrip(")"))
        return "cpu_full", torch.stack([degrade(t, "noise", sigma, s) for t, s in zip(est, seeds)])
    if name.startswith("+ brightness"):
        sigma = float(name.split("(0,")[1].rstrip(")"))
        return "cpu_full", torch.stack([degrade(t, "brightness", sigma, s) for t, s in zip(est, seeds)])
    if name == "wrong texture":
        return "cpu_full", wrong
    if name == "no texture":
        return "cpu_no_texture", est
    if name == "texture only":
        return "cpu_texture_only", est
    return "cpu_full", est



def texture_ablation(scenes, body: BodyModel | None = None, nets: dict | None = None, priors=("gmm", "vposer"),
                     config: FitConfig | None = None, batch_size: int = 10, progress: bool = True) -> dict:
    """Table 3 on ``scenes``: for every :data:`TEXTURE_VARIANTS` input the predicted field's EPE (full-image pixels)
    and SMPLify with it (``priors``). The person's texture is back-projected from 4 other frames (§4); ``nets``:
    ``cpu_full``, ``cpu_no_texture``, ``cpu_texture_only`` (default: the shipped ones)."""
    from tqdm.auto import tqdm

    from dispkit.checkpoints import load_pretrained
    from dispkit.texture import scene_texture, texture_error

    body = default_body(body)
    nets = nets or {k: load_pretrained(k) for k in ("cpu_full", "cpu_no_texture", "cpu_texture_only")}
    cfg = config
    scenes = list(scenes)
    n = len(scenes)
    t_start = time.perf_counter()
    estimates, tex_err = [], []
    for s in scenes:
        est, info = scene_texture(s, 4, body=body)
        estimates.append(est)
        tex_err.append(texture_error(est, s.texture, body, info["seen"]) | {"coverage": info["coverage"]})
    per, epe = {}, {v: [0.0, 0] for v in TEXTURE_VARIANTS}
    bar = tqdm(total=n, desc="texture ablation", disable=not progress)
    for c0, batch in zip(range(0, n, batch_size), batches(scenes, body, batch_size)):
        est = torch.stack(estimates[c0:c0 + len(batch)])
        wrong = torch.stack([estimates[(c0 + i + 1) % n] if n > 1 else _other_person(scenes[0], body)
                             for i in range(len(batch))])                               # the next person's
        for v in TEXTURE_VARIANTS:
            ckpt, tex = texture_variant(v, est, wrong, batch.seeds)
            terms, info = predicted_terms(batch, body, nets[ckpt], textures=tex, name=v)
            epe[v][0] += info["epe_sum"]
            epe[v][1] += info["pixels"]
            rows = fit_rows(batch, body, terms, priors, cfg, kind="dense")
            for name, row in rows.items():
                if name != "init" or v == TEXTURE_VARIANTS[0]:
                    dst = per.setdefault(name, {})
                    for k, vals in row.items():
                        dst.setdefault(k, []).extend(vals)
        bar.update(len(batch))
    bar.close()
    textured = list(TEXTURE_VARIANTS[:6])
    result = {
        "n_scenes": n, "priors": list(priors), "fit_config": vars(cfg or FitConfig()),
        "texture_estimation": {"frames": 4, "seen_mean_abs_error_255": float(np.mean(
            [e["seen_mean_abs_error_255"] for e in tex_err])), "coverage": float(np.mean([e["coverage"] for e in
                                                                                           tex_err]))},
        "epe_px": {v: e[0] / max(e[1], 1) for v, e in epe.items()},
        "rows": mean_rows(per),
        "wall_s": time.perf_counter() - t_start,
    }
    epe_ = result["epe_px"]
    result["goals"] = {
        "full_best_epe": min(TEXTURE_VARIANTS, key=epe_.get) == TEXTURE_VARIANTS[0],
        "wrong_worst_textured_epe": max(textured, key=epe_.get) == "wrong texture",
        **{f"no_texture_improves_init_{p}": result["rows"][row_name(p, "no texture")]["MPJPE"]
           < result["rows"]["init"]["MPJPE"] for p in priors},
    }
    return result
