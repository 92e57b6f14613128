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


@_exercise("05.zero_field", "The network's end-point error on a split is 3.2 px and predicting no displacement at "
           "all gives 6.4 px. What is the ratio to the zero field (the number bench_net.py reports)?",
           "EPE / zero-field EPE: below 1 the network helps, above 1 it is worse than doing nothing.")
def _zero_field(answer):
    a = _number(answer)
    if _close(a, 0.5, rel=0.01):
        return True, "0.5: half the displacement is left. Above 1.0 a prediction is worse than none: the " \
                     "refinement would then pull the body away from the truth (what the first network did on " \
                     "the OOD split)."
    if _close(a, 2.0, rel=0.01):
        return False, "inverted: divide the network's EPE by the zero field's."
    return False, f"{a:g} is not 3.2 / 6.4."


@_exercise("05.worst_variant", "In the ablation table (Table 3), which texture input gives the largest end-point "
           "error among the inputs to the full network? Pass the table: check(..., answer, table=table).",
           "compare table['epe_px'] over the first six variants (the ones fed to cpu_full).")
def _worst_variant(answer, table=None):
    if table is None:
        return False, "pass the table as table=table (the dict the ablation cell made)."
    from dispkit.evaluation import TEXTURE_VARIANTS

    textured = [v for v in TEXTURE_VARIANTS[:6] if v in table["epe_px"]]
    want = max(textured, key=table["epe_px"].get)
    if _name(answer) == _name(want):
        paper_ok = want == "wrong texture"
        return True, f"{want!r} ({table['epe_px'][want]:.2f} px). " + (
            "As in the paper: a wrong texture misleads more than noise or brightness." if paper_ok else
            "The paper finds the wrong texture worst; here it is not, so in this table the network relies on the "
            "texture less than the paper's does (see the closing notes of the benchmark).")
    return False, f"{answer!r} has {table['epe_px'].get(answer, float('nan')):.2f} px; another input is worse."


