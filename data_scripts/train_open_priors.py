#!/usr/bin/env python
"""Train dispkit's open learned pose priors (stand-ins for the licensed VPoser and ProHMR's flow).

* ``--vposer``: VPoser V02's architecture (21 joints, 32-d latent; 256 units here instead of 512, the
  open data being simpler than AMASS) trained as a VAE on poses of the broad training distribution
  (:func:`dispkit.data.broad.sample_pose_broad`): loss = squared error of the decoded rotation matrices +
  ``kl`` x KL(q(z|θ) || N(0, I)).
* ``--cnf``: the conditional flow :class:`dispkit.priors.ConditionalFlowPrior` trained by maximum likelihood
  on (GT pose, simulated regressor estimate) pairs: broad poses with the broad regressor errors
  (:func:`dispkit.data.broad.simulate_regressor_broad`: the presets x U(0.3, 1.5), heteroscedastic joints).

Both are seeded and written to ``dispkit/assets/priors`` (half-precision weights). ``--poses kit`` trains on the
kit's 12 key poses and its three regressor presets instead (the first open priors: in distribution on the ``id``
split, and they drag the OOD split's poses towards the key poses).

    python data_scripts/train_open_priors.py --vposer --cnf
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dispkit.data.broad import sample_pose_broad, simulate_regressor_broad
from dispkit.data.poses import sample_pose as sample_pose_kit
from dispkit.data.regressors import REGRESSOR_PRESETS, simulate_regressor
from dispkit.priors import PRIOR_DIR, ConditionalFlowPrior, VPoser


def _matrices(body_pose):
    import roma

    return roma.rotvec_to_rotmat(body_pose[:, :63].reshape(-1, 21, 3))


POSES = "broad"


def sample_pose(rng, batch_size):
    if POSES == "kit":
        return sample_pose_kit(rng, batch_size=batch_size)
    return sample_pose_broad(rng, batch_size=batch_size)


def train_vposer(n=40_000, epochs=20, batch=256, lr=1e-3, kl=5e-3, seed=0, neurons=256):
    torch.manual_seed(seed)
    poses = sample_pose(np.random.default_rng(seed), batch_size=n)
    held = sample_pose(np.random.default_rng(seed + 1), batch_size=2000)
    model = VPoser(num_neurons=neurons)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (n // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    t0 = time.perf_counter()
    for ep in range(epochs):
        perm = torch.randperm(n)
        model.train()
        for i in range(n // batch):
            x = poses[perm[i * batch:(i + 1) * batch]]
            q = model.encode(x)
            z = q.rsample()
            rec = (model.decode_matrix(z) - _matrices(x)).pow(2).sum((1, 2, 3)).mean()
            kld = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1).mean()
            loss = rec + kl * kld
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            q = model.encode(held)
            rec_err = (model.decode(q.mean) - held[:, :63]).reshape(-1, 21, 3).norm(dim=-1).mean()
            kld = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1).mean()
        print(f"vposer epoch {ep + 1}/{epochs}: held-out reconstruction {float(rec_err):.4f} rad/joint, "
              f"KL {float(kld):.1f}, {time.perf_counter() - t0:.0f} s", flush=True)
    return model, {"heldout_rec_rad_per_joint": float(rec_err), "heldout_kl": float(kld), "n": n, "epochs": epochs,
                   "seed": seed, "train_s": time.perf_counter() - t0}


def pairs(n, seed):
    rng = np.random.default_rng(seed)
    gt = {"body_pose": sample_pose(rng, batch_size=n), "global_orient": torch.zeros(n, 3),
          "betas": torch.zeros(n, 10), "transl": torch.tensor([[0.0, 0.0, 5.0]]).repeat(n, 1)}
    if POSES == "broad":
        init = torch.cat([simulate_regressor_broad({k: v[i:i + 1] for k, v in gt.items()}, rng)[0]["body_pose"]
                          for i in range(n)])
        return gt["body_pose"], init
    presets = list(REGRESSOR_PRESETS)
    which = rng.integers(len(presets), size=n)
    init = torch.zeros(n, 69)
    for k, name in enumerate(presets):
        sel = torch.as_tensor(np.nonzero(which == k)[0])
        if len(sel):
            sub = {key: v[sel] for key, v in gt.items()}
            init[sel] = simulate_regressor(sub, name, rng)["body_pose"]
    return gt["body_pose"], init


def train_cnf(n=40_000, epochs=15, batch=256, lr=1e-3, seed=0):
    torch.manual_seed(seed)
    theta, init = pairs(n, seed)
    held_t, held_i = pairs(2000, seed + 1)
    model = ConditionalFlowPrior()
    model.scale.copy_((theta - init).std(0).clamp(min=1e-3))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-5)
    steps = epochs * (n // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    t0 = time.perf_counter()
    for ep in range(epochs):
        perm = torch.randperm(n)
        model.train()
        for i in range(n // batch):
            idx = perm[i * batch:(i + 1) * batch]
            loss = -model.log_prob(theta[idx], init[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            nll = -model.log_prob(held_t, held_i).mean()
            mode = model.from_latent(torch.zeros_like(held_i), held_i)
            err_mode = (mode - held_t).reshape(-1, 23, 3).norm(dim=-1).mean()
            err_init = (held_i - held_t).reshape(-1, 23, 3).norm(dim=-1).mean()
        print(f"cnf epoch {ep + 1}/{epochs}: held-out NLL {float(nll):.2f}, pose error of z=0 "
              f"{float(err_mode):.4f} vs the estimate's {float(err_init):.4f} rad/joint, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    return model, {"heldout_nll": float(nll), "z0_error_rad_per_joint": float(err_mode),
                   "init_error_rad_per_joint": float(err_init), "n": n, "epochs": epochs, "seed": seed,
                   "train_s": time.perf_counter() - t0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vposer", action="store_true")
    ap.add_argument("--cnf", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--poses", choices=("broad", "kit"), default="broad",
                    help="the training poses (and regressor errors): broad (default) or the kit's key poses")
    args = ap.parse_args(argv)
    global POSES
    POSES = args.poses
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.vposer:
        model, info = train_vposer()
        info["poses"] = POSES
        print("wrote", model.save(PRIOR_DIR / "vposer_open.pt", extra=info))
    if args.cnf:
        model, info = train_cnf()
        info["poses"] = POSES
        print("wrote", model.save(PRIOR_DIR / "cnf_open.pt", extra=info))


if __name__ == "__main__":
    main()
