"""dispkit.metrics: MPJPE / N-MPJPE / PA-MPJPE and the vertex versions, in mm."""
import numpy as np
import pytest
import scipy.spatial
import torch
from scipy.spatial.transform import Rotation

from dispkit.metrics import (
    evaluate,
    mpjpe,
    n_mpjpe,
    n_pve,
    pa_mpjpe,
    pa_pve,
    procrustes_align,
    pve,
    scale_align,
)

KEYS = ["MPJPE", "N-MPJPE", "PA-MPJPE", "PVE", "N-PVE", "PA-PVE"]


def _rand(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=shape) * 0.3)


def _similarity(x, seed):
    """Apply a random proper rotation, scale in [0.5, 2] and translation (numpy, per frame)."""
    rng = np.random.default_rng(seed)
    out = []
    for xb in np.asarray(x):
        R = Rotation.random(random_state=rng).as_matrix()
        out.append(rng.uniform(0.5, 2.0) * xb @ R.T + rng.normal(size=3))
    return torch.from_numpy(np.stack(out))


def _pa_reference(pred, gt):
    """Independent PA error in mm: scipy's proper-rotation alignment (Kabsch) + closed-form scale."""
    errs = []
    for p, g in zip(np.asarray(pred), np.asarray(gt)):
        pc, gc = p - p.mean(0), g - g.mean(0)
        rot, _ = Rotation.align_vectors(gc, pc)  # rotation taking pc onto gc, det = +1
        rp = rot.apply(pc)
        s = (rp * gc).sum() / (pc * pc).sum()
        errs.append(1000 * np.linalg.norm(s * rp - gc, axis=1).mean())
    return np.array(errs)


def test_identical_is_zero():
    v, j = _rand(2, 100, 3), _rand(2, 24, 3, seed=1)
    res = evaluate(v, v, j, j)
    assert sorted(res) == sorted(KEYS)
    for k in KEYS:
        assert res[k] == pytest.approx(0.0, abs=1e-6), k


def test_pure_translation_is_removed_by_root_alignment():
    v, j = _rand(3, 100, 3), _rand(3, 24, 3, seed=1)
    d = torch.tensor([0.3, -1.2, 4.0], dtype=v.dtype)
    res = evaluate(v + d, v, j + d, j)
    for k in KEYS:
        assert res[k] == pytest.approx(0.0, abs=1e-6), k
    # without root alignment the translation is the whole error
    torch.testing.assert_close(mpjpe(j + d, j, root=None),
                               torch.full((3,), 1000 * d.norm().item(), dtype=v.dtype))


def test_double_size_prediction():
    gt = _rand(2, 24, 3)
    gt = gt - gt[:, :1]  # root at origin
    pred = 2 * gt
    torch.testing.assert_close(n_mpjpe(pred, gt), torch.zeros(2, dtype=gt.dtype), atol=1e-9, rtol=0)
    torch.testing.assert_close(pa_mpjpe(pred, gt), torch.zeros(2, dtype=gt.dtype), atol=1e-9, rtol=0)
    # MPJPE is then exactly the mean distance of the gt joints from the root
    torch.testing.assert_close(mpjpe(pred, gt), 1000 * gt.norm(dim=-1).mean(-1))
    assert (mpjpe(pred, gt) > 100).all()


def test_similarity_copy_has_zero_pa_error():
    gt_v, gt_j = _rand(4, 200, 3), _rand(4, 24, 3, seed=1)
    both = _similarity(torch.cat([gt_v, gt_j], 1), seed=2)
    pred_v, pred_j = both[:, :200], both[:, 200:]
    res = evaluate(pred_v, gt_v, pred_j, gt_j, per_frame=True)
    torch.testing.assert_close(res["PA-MPJPE"], torch.zeros(4, dtype=gt_v.dtype), atol=1e-8, rtol=0)
    torch.testing.assert_close(res["PA-PVE"], torch.zeros(4, dtype=gt_v.dtype), atol=1e-8, rtol=0)
    assert (res["MPJPE"] > 10).all() and (res["PVE"] > 10).all() and (res["N-MPJPE"] > 10).all()


def test_procrustes_recovers_known_transform():
    gt = _rand(1, 30, 3)
    R = torch.from_numpy(Rotation.from_rotvec([0.3, -0.5, 1.1]).as_matrix())
    s, t = 0.7, torch.tensor([0.1, 0.2, -0.3], dtype=gt.dtype)
    pred = (gt - t) @ R / s  # so that gt = s R pred + t
    aligned, (s_hat, R_hat, t_hat) = procrustes_align(pred, gt)
    torch.testing.assert_close(aligned, gt)
    torch.testing.assert_close(s_hat, torch.tensor([s], dtype=gt.dtype))
    torch.testing.assert_close(R_hat[0], R)
    torch.testing.assert_close(t_hat[0], t)


def test_pa_matches_independent_scipy_reference():
    # unrelated point sets (the optimal fit is often a reflection) and noisy similarity copies
    gt = _rand(6, 24, 3, seed=3)
    noisy = _similarity(gt, seed=4) + _rand(6, 24, 3, seed=5) * 0.2
    for pred in (_rand(6, 24, 3, seed=6), noisy):
        np.testing.assert_allclose(pa_mpjpe(pred, gt).numpy(), _pa_reference(pred, gt), rtol=1e-7)
        np.testing.assert_allclose(pa_pve(pred, gt).numpy(), _pa_reference(pred, gt), rtol=1e-7)


def test_pa_residual_matches_scipy_procrustes_disparity():
    """scipy.spatial.procrustes standardises both sets; its disparity is the residual over |gt - mean|^2."""
    gt = _rand(3, 50, 3, seed=7)
    pred = _similarity(gt, seed=8) + _rand(3, 50, 3, seed=9) * 0.1  # proper rotation is optimal here
    aligned, _ = procrustes_align(pred, gt)
    for b in range(3):
        _, _, disparity = scipy.spatial.procrustes(gt[b].numpy(), pred[b].numpy())
        gc = gt[b] - gt[b].mean(0)
        ours = ((aligned[b] - gt[b]) ** 2).sum() / (gc ** 2).sum()
        assert ours.item() == pytest.approx(disparity, rel=1e-9)


def test_reflection_is_not_removed():
    gt = _rand(2, 24, 3, seed=10)
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=gt.dtype))
    pred = gt @ mirror
    pa = pa_mpjpe(pred, gt)
    # an improper "rotation" (no determinant fix) would undo the mirror exactly
    for b in range(2):
        p, g = pred[b].numpy() - pred[b].numpy().mean(0), gt[b].numpy() - gt[b].numpy().mean(0)
        U, S, Vt = np.linalg.svd(g.T @ p)
        improper = (S.sum() / (p * p).sum()) * p @ (U @ Vt).T
        assert np.linalg.norm(improper - g, axis=1).mean() < 1e-9
    assert (pa > 50).all()
    _, (_, R, _) = procrustes_align(pred, gt)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(2, dtype=gt.dtype))


def test_one_centimetre_offset_except_root():
    gt = _rand(2, 24, 3, seed=11)
    pred = gt.clone()
    pred[:, 1:] += torch.tensor([0.0, 0.01, 0.0], dtype=gt.dtype)
    torch.testing.assert_close(mpjpe(pred, gt), torch.full((2,), 10.0 * 23 / 24, dtype=gt.dtype))
    # root as the mean of two joints (e.g. the hips of LSP-14)
    pred = gt.clone()
    pred[:, 2:] += torch.tensor([0.006, 0.0, 0.008], dtype=gt.dtype)
    torch.testing.assert_close(mpjpe(pred, gt, root=[0, 1]), torch.full((2,), 10.0 * 22 / 24, dtype=gt.dtype))


def test_vertices_are_centred_by_the_joint_root():
    v, j = _rand(2, 100, 3), _rand(2, 24, 3, seed=1)
    d = torch.tensor([0.0, 0.0, 0.02], dtype=v.dtype)
    # mesh and skeleton moved together: no error
    torch.testing.assert_close(pve(v + d, v, j + d, j), torch.zeros(2, dtype=v.dtype), atol=1e-9, rtol=0)
    # mesh moved relative to its own skeleton: the full 2 cm shows up
    torch.testing.assert_close(pve(v + d, v, j, j), torch.full((2,), 20.0, dtype=v.dtype))
    # without joints, meshes are centred at their centroids
    torch.testing.assert_close(pve(v + d, v), torch.zeros(2, dtype=v.dtype), atol=1e-9, rtol=0)
    # N-PVE: scaled about the pelvis -> zero
    pelvis = j[:, :1]
    pv = 1.1 * (v - pelvis) + pelvis
    pj = 1.1 * (j - pelvis) + pelvis
    torch.testing.assert_close(n_pve(pv, v, pj, j), torch.zeros(2, dtype=v.dtype), atol=1e-9, rtol=0)
    assert (pve(pv, v, pj, j) > 1).all()


def test_scale_align_by_hand():
    pred = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    gt = torch.tensor([[[2.0, 1.0, 0.0], [0.0, 3.0, 0.0]]])
    aligned, s = scale_align(pred, gt)
    assert s.item() == pytest.approx((2 + 3) / 2)
    torch.testing.assert_close(aligned, 2.5 * pred)


def test_batch_independence_and_per_frame():
    gt_v, gt_j = _rand(5, 80, 3), _rand(5, 24, 3, seed=1)
    pred_v, pred_j = gt_v + _rand(5, 80, 3, seed=2) * 0.1, gt_j + _rand(5, 24, 3, seed=3) * 0.1
    full = evaluate(pred_v, gt_v, pred_j, gt_j, per_frame=True)
    means = evaluate(pred_v, gt_v, pred_j, gt_j)
    for k in KEYS:
        assert full[k].shape == (5,)
        assert means[k] == pytest.approx(full[k].mean().item())
        for b in range(5):
            one = evaluate(pred_v[b:b + 1], gt_v[b:b + 1], pred_j[b:b + 1], gt_j[b:b + 1], per_frame=True)
            torch.testing.assert_close(one[k], full[k][b:b + 1])
    # joints only: no vertex metrics
    assert sorted(evaluate(None, None, pred_j, gt_j)) == ["MPJPE", "N-MPJPE", "PA-MPJPE"]


def test_numpy_and_float32_inputs():
    gt = np.random.default_rng(0).normal(size=(2, 24, 3)).astype(np.float32)
    res = evaluate(None, None, gt + 0.01, gt)
    assert res["MPJPE"] == pytest.approx(0.0, abs=1e-3) and res["PA-MPJPE"] == pytest.approx(0.0, abs=1e-2)
    assert mpjpe(torch.from_numpy(gt), torch.from_numpy(gt)).dtype == torch.float32


def test_gradients_flow():
    gt = _rand(2, 24, 3, seed=12)
    pred = (_similarity(gt, seed=13) + _rand(2, 24, 3, seed=14) * 0.05).requires_grad_(True)
    for fn in (mpjpe, n_mpjpe, pa_mpjpe):
        p0 = pred[:, :8].detach().clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda p, fn=fn: fn(p, gt[:, :8]), (p0,))
    # a few gradient steps on PA-MPJPE reduce it
    x = pred.detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([x], lr=1e-4)
    start = pa_mpjpe(x, gt).sum().item()
    for _ in range(20):
        opt.zero_grad()
        pa_mpjpe(x, gt).sum().backward()
        opt.step()
    assert pa_mpjpe(x, gt).sum().item() < 0.9 * start


@pytest.mark.parametrize("args, match", [
    ((torch.zeros(2, 24, 3), torch.zeros(2, 23, 3)), r"\(2, 24, 3\) and \(2, 23, 3\)"),
    ((torch.zeros(24, 3), torch.zeros(24, 3)), r"\[B,N,3\]"),
    ((torch.zeros(1, 24, 2), torch.zeros(1, 24, 2)), r"\[B,N,3\]"),
    ((torch.full((1, 24, 3), float("nan")), torch.zeros(1, 24, 3)), "non-finite"),
    ((torch.zeros(1, 24, 3), torch.full((1, 24, 3), float("inf"))), "non-finite"),
])
def test_bad_inputs_raise(args, match):
    for fn in (mpjpe, n_mpjpe, pa_mpjpe):
        with pytest.raises(ValueError, match=match):
            fn(*args)


def test_bad_vertex_joint_combinations_raise():
    v, j = torch.zeros(2, 10, 3), torch.zeros(2, 24, 3)
    with pytest.raises(ValueError, match="both pred_joints and gt_joints"):
        pve(v, v, j, None)
    with pytest.raises(ValueError, match="batch"):
        pve(v, v, j[:1], j[:1])
    with pytest.raises(ValueError, match="root 30"):
        mpjpe(j, j, root=30)
    with pytest.raises(ValueError, match="both pred_vertices and gt_vertices"):
        evaluate(v, None, j, j)
