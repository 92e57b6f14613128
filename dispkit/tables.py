"""The kit's Tables 1 and 2 beside the paper's: ratios, validation of the calibrated detectors, Markdown.

Takes the result dict of ``benchmarks/tables.py`` (also shown by notebook 07 and the report) and writes, per split
and estimator, every row with its MPJPE / PA-MPJPE / PVE, its ratio to the initial estimate, the paper's number
for the same row (3DPW, :mod:`dispkit.paper`) and the paper's ratio, followed by one sentence on where the kit
agrees with the paper and where it does not.
"""
from __future__ import annotations

from dispkit import paper

__all__ = ["REAL_DETECTOR", "SHOWN", "claims", "markdown_table", "markdown_tables", "sweep_position",
           "texture_markdown", "validation"]

SHOWN = ("MPJPE", "PA-MPJPE", "PVE")


#: the kit's real-detector rows stand beside the paper's OpenPose rows (the paper ran OpenPose, the kit BlazePose)
REAL_DETECTOR = {"(BlazePose)": "(OP)"}


def _paper_row(regressor: str, row: str) -> dict | None:
    for mine, theirs in REAL_DETECTOR.items():
        row = row.replace(mine, theirs)
    for table in (paper.TABLE1, paper.TABLE2):
        if row in table.get(regressor, {}):
            return table[regressor][row]
    return None


def validation(result: dict, split: str = "id") -> list[dict]:
    """For every OP, OP* and DP row of a split: the kit's ratio to the initial MPJPE next to the paper's (the
    calibration rows are PARE + GMM; all others validate the calibration)."""
    out = []
    for reg, r in result.get("splits", {}).get(split, {}).items():
        rows, preg = r["rows"], r.get("paper_regressor", reg)
        for name, row in rows.items():
            if not any(f"({m})" in name for m in ("OP", "OP*", "DP", "BlazePose")):
                continue
            ratio = row["MPJPE"] / rows["init"]["MPJPE"]
            p = paper.ratio_to_init(preg, name.replace("(BlazePose)", "(OP)"))
            out.append({"estimator": reg, "row": name, "kit_ratio": ratio, "paper_ratio": p,
                        "calibration_row": preg == "pare-like" and name in ("+GMM (OP)", "+GMM (DP)")})
    return out


def claims(rows: dict) -> tuple[list[str], list[str]]:
    """The paper's claims checked on one estimator's rows: (agreements, disagreements), as short phrases."""
    agree, differ = [], []

    def check(text, ok):
        if ok is not None:
            (agree if ok else differ).append(text)

    def mpjpe(name):
        return rows[name]["MPJPE"] if name in rows else None

    init = mpjpe("init")
    if mpjpe("+GMM (Ours GT)") is not None and mpjpe("+GMM (OP GT)") is not None:
        check("GT dense displacements constrain the body better than the 25 GT keypoints",
              mpjpe("+GMM (Ours GT)") < mpjpe("+GMM (OP GT)"))
    for prior in ("GMM", "VPOSER", "CNF"):
        ours, op, dp = mpjpe(f"+{prior} (Ours)"), mpjpe(f"+{prior} (OP)"), mpjpe(f"+{prior} (DP)")
        real = mpjpe(f"+{prior} (BlazePose)")
        if ours is not None:
            check(f"Ours + {prior} improves on the initial estimate", ours < init)
            if op is not None:
                check(f"Ours + {prior} beats OpenPose + {prior}", ours < op)
            if real is not None:
                check(f"Ours + {prior} beats the real detector (BlazePose) + {prior}", ours < real)
            if dp is not None:
                check(f"Ours + {prior} beats DensePose + {prior}", ours < dp)
    if mpjpe("+GMM (OP*)") is not None and mpjpe("+GMM (OP)") is not None:
        check("the modified SMPLify beats SPIN's default on OpenPose", mpjpe("+GMM (OP)") < mpjpe("+GMM (OP*)"))
    return agree, differ


def markdown_table(header, rows, digits: int = 1) -> str:
    """A markdown table from a header (column names) and rows (sequences of cells): floats written with ``digits``
    decimals, None as an empty cell, anything else as ``str``. The one table writer of the notebooks and reports."""
    def cell(x):
        if x is None:
            return ""
        if isinstance(x, float):
            return f"{x:.{digits}f}"
        return str(x)
    header = list(header)
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    for row in rows:
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"a row of {len(row)} cells under a header of {len(header)}: {row}")
        lines.append("| " + " | ".join(cell(x) for x in row) + " |")
    return "\n".join(lines)


def _fmt(x, nd=1):
    return "" if x is None else f"{x:.{nd}f}"


def markdown_tables(result: dict) -> str:
    """Markdown of a ``benchmarks/tables.py`` result: every split and estimator beside the paper, the calibration,
    the validation of the detectors and the noise sweep's summary."""
    lines = [f"Synthetic scenes ({result.get('n_scenes', '?')} per split and estimator), open body model, 24 SMPL "
             "joints, mm. *paper*: the paper's number for the same row on 3DPW (its estimator: PARE for pare-like, "
             "ProHMR for prohmr-like, HMR+ for hmr-like; beside a BlazePose row, the paper's OpenPose row); *ratio*: "
             "the row's MPJPE / the initial MPJPE.", ""]
    if result.get("real_detector") not in (None, "BlazePose"):
        lines += [f"Real-detector (BlazePose) rows: {result['real_detector']}.", ""]
    cal = result.get("calibration")
    if cal:
        lines += ["**Detector calibration** (calibration scenes apart from both splits; one noise level each):", ""]
        for det in ("openpose", "densepose"):
            c = cal.get(det)
            if c:
                lines.append(f"* {det}: level {c['level']:.3f} gives SMPLify + GMM from pare-like estimates "
                             f"{c['ratio']:.3f} x the initial MPJPE (the paper's PARE + GMM: {c['target_ratio']:.3f})")
        lines.append("")
    names = {"id": "in distribution (held-out seeds of the kit's generator)",
             "ood": "out of distribution (dispkit.data.ood)",
             "photo": "held-out appearance (held-out clothing families and photographs, dispkit.data.wide)"}
    for split, regs in result.get("splits", {}).items():
        for reg, r in regs.items():
            rows, preg = r["rows"], r.get("paper_regressor", reg)
            init = rows["init"]["MPJPE"]
            lines += [f"**{reg} estimates, {names.get(split, split)}**", "",
                      "| method | " + " | ".join(SHOWN) + " | ratio | paper MPJPE | paper ratio | s/frame |",
                      "|" + "---|" * (len(SHOWN) + 5)]
            for name, row in rows.items():
                p = _paper_row(preg, name)
                theirs = name.replace("(BlazePose)", "(OP)")          # a real-detector row: the paper's OpenPose row
                pr = paper.ratio_to_init(preg, theirs) if p else None
                if p and pr is None:
                    pr = paper.ratio_to_init(preg, theirs, table=paper.TABLE2)
                vals = " | ".join(_fmt(row.get(m)) for m in SHOWN)
                lines.append(f"| {name} | {vals} | {row['MPJPE'] / init:.3f} | {_fmt(p['MPJPE'] if p else None)} | "
                             f"{_fmt(pr, 3)} | {_fmt(row.get('s_per_frame'), 2)} |")
            if "epe_px" in r:
                e = r["epe_px"]
                lines.append(f"\nNetwork EPE on these scenes: {e['Ours']:.2f} px vs {e['zero field']:.2f} px for "
                             f"the zero field ({e['Ours'] / e['zero field']:.2f} x).")
            agree, differ = claims(rows)
            lines += ["", f"*Against the paper:* agrees that {'; '.join(agree) or '(nothing checked)'}. "
                          + (f"Differs (not so here): {'; '.join(differ)}." if differ else "No claim fails."), ""]
    val = validation(result)
    if val:
        lines += ["**Validation of the calibrated detectors** (in distribution: MPJPE ratio to the initial "
                  "estimate, kit vs paper; the calibration rows are marked *cal*)", "",
                  "| estimator | row | kit | paper |", "|---|---|---|---|"]
        for v in val:
            tag = " *cal*" if v["calibration_row"] else ""
            lines.append(f"| {v['estimator']} | {v['row']}{tag} | {v['kit_ratio']:.3f} | {_fmt(v['paper_ratio'], 3)} |")
        lines.append("")
    for name, sw in result.get("noise_sweep", {}).items():
        lines += [f"**Noise sweep, {name}** ({sw['n_scenes']} scenes; MPJPE of the keypoint fit at factor x the "
                  "calibrated OpenPose noise; `noise_sweep.png`)", "",
                  "| prior | " + " | ".join(f"x{f:g}" for f in sw["factors"]) +
                  " | Ours (predicted) | Ours GT | BlazePose | BlazePose at |",
                  "|" + "---|" * (len(sw["factors"]) + 5)]
        for p, curve in sw["curves"].items():
            ref = sw["reference"].get(p, {})
            ours, gt, bp = (_fmt(ref.get(k, {}).get("MPJPE")) for k in ("Ours", "Ours GT", "BlazePose"))
            at = sweep_position(sw, p)
            lines.append(f"| {p.upper()} | " + " | ".join(f"{c['MPJPE']:.1f}" for c in curve) +
                         f" | {ours} | {gt} | {bp} | {'' if at is None else f'x{at:.2f}'} |")
        if any(sweep_position(sw, p) is not None for p in sw["curves"]):
            lines.append("\n*BlazePose at*: the simulated OpenPose noise level (x the calibrated one) at which the "
                         "simulated keypoint fit is as accurate as the fit to the real detector's keypoints "
                         "(interpolated along the sweep; blank outside it).")
        lines.append("")
    return "\n".join(lines)


def sweep_position(sweep: dict, prior: str) -> float | None:
    """Where the real detector falls on the noise sweep: the factor x the calibrated OpenPose level at which the
    simulated keypoint fit with ``prior`` has the BlazePose fit's MPJPE (linear interpolation; None outside)."""
    target = sweep.get("reference", {}).get(prior, {}).get("BlazePose", {}).get("MPJPE")
    curve = sweep.get("curves", {}).get(prior)
    if target is None or not curve:
        return None
    for a, b in zip(curve, curve[1:]):
        lo, hi = sorted((a["MPJPE"], b["MPJPE"]))
        if lo <= target <= hi and hi > lo:
            w = (target - a["MPJPE"]) / (b["MPJPE"] - a["MPJPE"])
            return a["factor"] + w * (b["factor"] - a["factor"])
    return None


_T3 = ("MPJPE", "PA-MPJPE", "PVE", "PA-PVE")


def _row(prior: str, method: str, rows: dict | None = None) -> str:
    name = f"+{prior.split(':')[0].upper()} ({method})"
    if rows is not None and name not in rows and f"{method} +{prior.upper()}" in rows:
        return f"{method} +{prior.upper()}"        # results written before the evaluation layer (same fits)
    return name


def texture_markdown(result: dict) -> str:
    """Markdown of Table 3 (:func:`dispkit.evaluation.texture_ablation`) beside the paper's EPE and MPJPE."""
    where = {"ood": "out-of-distribution"}.get(result.get("split_kind", "heldout"), "held-out")
    nets = result.get("networks")
    trio = (" Networks: " + ", ".join(f"{k} = `{v}`" for k, v in nets.items()) + "." if nets else "")
    lines = [f"Texture ablations on {result['n_scenes']} {where} pare-like scenes (textures back-projected from 4 "
             f"frames: coverage {result['texture_estimation']['coverage']:.2f}, error "
             f"{result['texture_estimation']['seen_mean_abs_error_255']:.1f}/255 on seen vertices). EPE in "
             f"full-image pixels, metrics in mm.{trio}", "",
             "| input | EPE | " + " | ".join(f"{m} ({p.upper()})" for p in result["priors"] for m in _T3)
             + " | paper EPE | paper MPJPE (VPoser) |",
             "|" + "---|" * (4 + len(_T3) * len(result["priors"]))]
    init = result["rows"]["init"]
    lines.append("| initial estimate | | " + " | ".join(f"{init[m]:.1f}" for p in result["priors"] for m in _T3)
                 + f" | | {paper.TABLE3['init']['MPJPE']} |")
    for v, e in result["epe_px"].items():
        vals = " | ".join(f"{result['rows'][_row(p, v, result['rows'])][m]:.1f}" for p in result["priors"]
                          for m in _T3)
        ref = paper.TABLE3.get(v, {})
        lines.append(f"| {v} | {e:.2f} | {vals} | {ref.get('EPE', '')} | {ref.get('MPJPE', '')} |")
    return "\n".join(lines) + "\n"
