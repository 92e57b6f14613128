#!/usr/bin/env python
"""Fit dispkit's open Gaussian-mixture pose prior (the stand-in for SMPLify's licensed ``gmm_08.pkl``).

SMPLify's mixture has 8 full-covariance components over SMPL's ``body_pose`` (69 axis-angle values) fitted to
CMU motion capture. The open one has the same format (``means [8,69]``, ``covars [8,69,69]``, ``weights [8]``)
and is fitted with scikit-learn's EM to poses of the broad training distribution
(:func:`dispkit.data.broad.sample_pose_broad`: key poses with noise, blends of two, and continuous poses over the
anatomical ranges; never the OOD split's pose families), with a covariance floor so that no direction is
impossible. SMPLify's GMM was fitted to CMU motion capture, a broad source too; a GMM fitted to the kit's 12 key
poses only (``--poses kit``, the first open GMM) drags every other pose towards them (measured on the OOD split:
noise-free keypoints + that GMM 106 mm MPJPE, + VPoser 48 mm). On real data, prefer SMPLify's file
(``prior="gmm:/path/to/gmm_08.pkl"``).

    python data_scripts/fit_open_gmm.py            # writes dispkit/assets/priors/gmm_open.npz
    python data_scripts/fit_open_gmm.py --check    # refit and compare with the committed file

Needs the ``build`` extra (scikit-learn).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "dispkit" / "assets" / "priors" / "gmm_open.npz"


def _sampler(poses: str):
    from dispkit.data.broad import sample_pose_broad
    from dispkit.data.poses import sample_pose

    return {"broad": sample_pose_broad, "kit": lambda rng, batch_size: sample_pose(rng, batch_size=batch_size)}[poses]


def fit(n: int = 40_000, components: int = 8, seed: int = 0, reg: float = 1e-3, poses: str = "broad") -> dict:
    from sklearn.mixture import GaussianMixture

    sample_pose = _sampler(poses)
    rng = np.random.default_rng(seed)
    poses_ = sample_pose(rng, batch_size=n).numpy().astype(np.float64)
    gmm = GaussianMixture(components, covariance_type="full", reg_covar=reg, random_state=seed, max_iter=500,
                          n_init=2).fit(poses_)
    held = sample_pose(np.random.default_rng(seed + 1), batch_size=2000).numpy().astype(np.float64)
    return {"means": gmm.means_.astype(np.float32), "covars": gmm.covariances_.astype(np.float32),
            "weights": gmm.weights_.astype(np.float32), "n_samples": np.int64(n), "seed": np.int64(seed),
            "reg_covar": np.float32(reg), "poses": np.array(poses), "heldout_mean_loglik": np.float32(gmm.score(held))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="refit and compare with the committed file")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--poses", choices=("broad", "kit"), default="broad",
                    help="the pose source: the broad training distribution (default) or the kit's key poses")
    args = ap.parse_args(argv)
    d = fit(poses=args.poses)
    print(f"held-out mean log-likelihood {float(d['heldout_mean_loglik']):.2f}, weights {np.round(d['weights'], 3)}")
    if args.check:
        ref = dict(np.load(args.out))
        diff = max(float(np.abs(ref[k] - d[k]).max()) for k in ("means", "covars", "weights"))
        print(f"max difference to {args.out}: {diff:.2e}")
        return 0 if diff < 1e-4 else 1
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **d)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
