"""Exercises of notebook 05 (keys ``"05.*"``)."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _call, _close, _exercise, _name, _number


@_exercise("05.eq3_loss", "Write eq3(pred, target, mask): Eq. 3's loss of one stack, 1/(W H) Σ_xy m_xy "
           "||pred_xy - target_xy||_1, for one crop: pred and target [2,H,W], mask [H,W] (0/1); return a number.",
           "(pred - target).abs().sum(0) is the L1 norm per pixel; multiply by the mask, sum, divide by H * W.")
def _eq3(answer):
    from dispkit.train import eq3_loss

    g = torch.Generator().manual_seed(3)
    for H, W in ((4, 5), (7, 3)):
        pred, target = torch.randn(2, H, W, generator=g), torch.randn(2, H, W, generator=g)
        mask = torch.rand(H, W, generator=g) > 0.4
        want = float(eq3_loss([pred[None]], target[None], mask[None])[0])
        got = _number(_call(answer, pred, target, mask.float()))
        if not _close(got, want, rel=1e-4):
            if _close(got, want * H * W / max(float(mask.sum()), 1.0), rel=1e-4):
                return False, "you divided by the masked pixels; Eq. 3 divides by all W x H pixels of the crop."
            l2 = float(((pred - target).norm(dim=0) * mask).sum() / (H * W))
            if _close(got, l2, rel=1e-4):
                return False, "that is the L2 (end-point) distance; Eq. 3 uses the L1 norm ||.||_1."
            return False, f"on a {H} x {W} case you got {got:.5f}, Eq. 3 gives {want:.5f}."
    return True, "the L1 loss over the rendered pixels: robust to the few pixels whose target is wrong (a limb " \
                 "seen through another), and what dispkit.train.eq3_loss sums over the stacks."


def _better_worse(x) -> str:
    s = _name(x)
    return {"below": "better", "beats": "better", "yes": "better", "true": "better", "above": "worse", "no": "worse",
            "false": "worse"}.get(s, s)


@_exercise("05.ood_zero_field", "Out of distribution (other poses, portrait frames, camera pitch and roll, other "
           "regressor errors and backgrounds), is the first network cpu_full_kit (trained on the kit's generator "
           "only) 'better' or 'worse' than the zero field, predicting no displacement at all? And cpu_full "
           "(fine-tuned on the broad and mixed scenes)? Answer (cpu_full_kit, cpu_full).",
           "a network meets scenes unlike its training data; 'worse than nothing' is a ratio to the zero field "
           "above 1.")
def _ood_zero_field(answer, table=None):
    from dispkit.notebooks import load_result

    if isinstance(answer, str) or len(answer) != 2:
        return False, "answer two words, (cpu_full_kit, cpu_full), each 'better' or 'worse'."
    got = [_better_worse(a) for a in answer]
    if any(g not in ("better", "worse") for g in got):
        return False, f"each answer is 'better' or 'worse' (got {answer!r})."
    committed = load_result("net")
    if committed is not None:
        ratio = {k: committed["checkpoints"][k]["ood"]["ratio_to_zero_field"] for k in ("cpu_full_kit", "cpu_full")}
        where = f"benchmarks/results/net.json, {committed['splits']['ood']['n_scenes']} OOD scenes"
    elif table is not None:  # no committed results in this installation: the notebook's own table
        ratio = {k: table[k] for k in ("cpu_full_kit", "cpu_full")}
        where = "this notebook's OOD scenes"
    else:
        return False, "no committed benchmarks/results/net.json here: pass the notebook's OOD ratios, table=..."
    want = ["better" if ratio[k] < 1 else "worse" for k in ("cpu_full_kit", "cpu_full")]
    said = (f"ratios to the zero field: cpu_full_kit {ratio['cpu_full_kit']:.2f}, cpu_full {ratio['cpu_full']:.2f} "
            f"({where})")
    if got == want:
        why = {"worse": "predicts fields worse than predicting nothing: a refinement with it would pull the body "
                        "away from the truth", "better": "still beats predicting nothing"}
        return True, f"{said}. On scenes unlike its training data cpu_full_kit {why[want[0]]}; cpu_full, fine-tuned " \
                     f"on the broad and mixed scenes, {why[want[1]]}."
    return False, f"not what was measured: {said}."


@_exercise("05.worst_variant", "Table 3: among the inputs to the full network (the estimated texture, noise N(0,10) "
           "or N(0,30), brightness N(0,25) or N(0,50), the wrong texture), which will give the largest end-point "
           "error in the kit's committed table (benchmarks/results/texture_ablation.json)? Answer its name as in "
           "the table.", "which of them tells the network something wrong, rather than something blurred?")
def _worst_variant(answer, table=None):
    from dispkit.evaluation import TEXTURE_VARIANTS
    from dispkit.notebooks import load_result

    table = load_result("texture_ablation") if table is None else table
    if table is None:
        return False, "no committed benchmarks/results/texture_ablation.json here: pass a table, table=..."
    epe = table["epe_px"]
    textured = [v for v in TEXTURE_VARIANTS[:6] if v in epe]
    names = {_name(v): v for v in TEXTURE_VARIANTS}
    a = names.get(_name(answer))
    if a is None:
        return False, f"answer one of the table's names: {', '.join(textured)} (got {answer!r})."
    if a not in textured:
        return False, f"{a!r} is another network (trained without the RGB rendering or with it alone), not a texture " \
                      "given to the full network."
    want = max(textured, key=epe.get)
    n = table.get("n_scenes", "?")
    if a == want:
        paper_ok = want == "wrong texture"
        return True, f"{want!r}: {epe[want]:.2f} px on {n} scenes, against {epe[textured[0]]:.2f} px with the " \
                     "estimated texture. " + (
            "As in the paper (Table 3: 4.73 against 3.70): the wrong person's colours mislead the matching; noise "
            "and brightness leave each part its colour. " if paper_ok else
            "The paper finds the wrong texture worst; this table does not. ") + \
            f"The rise over the estimated texture: x{epe[want] / epe[textured[0]]:.2f} here, " \
            f"x{4.73 / 3.70:.2f} for the paper's wrong texture."
    return False, f"{a!r} has {epe[a]:.2f} px on {n} scenes; another textured input is worse."
