"""Exercises of notebook 03 (keys ``"03.*"``)."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _close, _exercise, _number


@_exercise("03.median", "Four frames see one vertex with the grey values 0.52, 0.55, 0.50 and 0.95 (in the "
           "fourth the vertex is hidden behind an arm the renderer missed). Which colour does the paper's "
           "back-projection give the vertex, and what would the mean give? Answer (median, mean).",
           "the paper takes the median over the frames; compare with the mean.")
def _median(answer):
    med, mean = (_number(x) for x in answer)
    vals = torch.tensor([0.52, 0.55, 0.50, 0.95])
    if not _close(med, float(vals.median()), rel=1e-3) and not _close(med, 0.535, rel=1e-3):
        return False, f"the median of the four values is 0.535 (the mean of the middle two), not {med:g}."
    if not _close(mean, float(vals.mean()), rel=1e-3):
        return False, f"the median is right; the mean is {float(vals.mean()):.4f}, not {mean:g}."
    return True, "0.535 against 0.63: one wrong frame moves the mean by a fifth of the range and the median hardly " \
                 "at all, which is why §4 takes the median."
