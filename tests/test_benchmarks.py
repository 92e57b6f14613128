"""The benchmark scripts' own logic (their accuracy numbers come from running them, not from here)."""
import sys

import torch

from dispkit import net
from dispkit.data.synthetic import make_scene
from dispkit.notebooks import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import tables  # benchmarks/tables.py


def test_what_if_terms_interpolate_between_the_gt_field_and_the_prediction(body):
    """``--error-scales``: a x the network's error. a = 1 is the prediction itself; a = 0 the GT field seen through
    the same crop, whose targets land on the GT vertices' projections."""
    chunk = [make_scene(900_003, "pare-like", body=body)]
    model = net.build("cpu").eval()  # untrained: large errors, which makes the interpolation visible
    cam, init, go, io, terms = tables.data_terms(chunk, body, [1], model, error_scales=[1.0, 0.0])
    ours, one, zero = terms["Ours"], terms["Ours, error x1"], terms["Ours, error x0"]
    assert torch.equal(one.visible, ours.visible) and ours.visible.sum() > 300
    v = ours.visible[0]
    torch.testing.assert_close(one.targets[0, v], ours.targets[0, v])
    gt_px = cam.project(go.vertices)[0, v]
    err_zero = (zero.targets[0, v] - gt_px).norm(dim=-1)
    err_pred = (ours.targets[0, v] - gt_px).norm(dim=-1)
    assert err_zero.median() < 0.5 and err_pred.median() > 5 * err_zero.median()
