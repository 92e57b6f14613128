"""The pose priors of SMPLify (§4.1): SMPLify's GMM, VPoser, a conditional normalising flow (cNF); ``load_prior``.

* :class:`GMMPrior` -- SMPLify's Gaussian mixture over the body pose, from ``gmm_08.pkl`` by path or the open
  mixture fitted to the kit's pose sampler (``data_scripts/fit_open_gmm.py``).

VPoser and the cNF are *latent* priors: the fit optimises a latent code ``z`` instead of the body pose and penalises
``||z||²`` (see :func:`dispkit.fit.smplify`).

* :class:`VPoser` -- human_body_prior's V02 architecture (21 body joints, 32-d latent, 512 units, decoder to
  the 6D rotation representation). :meth:`VPoser.load` reads the official checkpoint folder
  (``V02_05/``: ``snapshots/*.ckpt``) by path, or dispkit's open one (trained by
  ``data_scripts/train_open_priors.py`` on the kit's pose sampler; the default).
* :class:`ConditionalFlowPrior` -- a conditional normalising flow in the spirit of ProHMR's prior: a stack of
  affine coupling layers (zuko's MAF with two passes) over the *correction* ``θ − θ_init`` of the body pose
  (69 axis-angle values), conditioned on the initial estimate's body pose ``θ_init``. ProHMR conditions its
  flow on image features; the kit conditions on the regressor's estimate, so the prior learns which
  corrections a regressor's errors call for. Trained on synthetic (GT, regressor estimate) pairs of all
  three presets. ``z = 0`` is the flow's most likely correction.

Files are read with clear errors; the open priors live in ``dispkit/assets/priors``.
"""
from __future__ import annotations

import functools
import math
import os
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dispkit import inputs
from dispkit.licensed import asset_help

__all__ = ["PRIOR_DIR", "ConditionalFlowPrior", "GMMPrior", "VPoser", "load_prior"]

PRIOR_DIR = Path(__file__).resolve().parent / "assets" / "priors"


def _vposer_help() -> str:
    return f"{asset_help('vposer')} Without it, dispkit's open VPoser (prior='vposer') is used."


def load_prior(prior="gmm") -> nn.Module:
    """A pose prior by name.

    ``"gmm"`` (the open mixture shipped with dispkit) or ``"gmm:PATH"`` (SMPLify's ``gmm_08.pkl``);
    ``"vposer"`` (dispkit's open VPoser) or ``"vposer:PATH"`` (human_body_prior's V02 folder);
    ``"cnf"`` (dispkit's conditional flow) or ``"cnf:PATH"``; ``None``: no prior (returned as is); a prior given
    by name is loaded once per process and shared. Or a module given as is: ``prior(body_pose, betas)
    -> [B]``, or a latent prior with ``latent_init(init)`` and ``pose_from_latent(z, init)``.

    A missing file raises ``FileNotFoundError`` (saying where to get it); an unknown name
    :class:`dispkit.inputs.UnknownNameError`, a file that holds no such prior :class:`dispkit.inputs.FileContentError`
    (both ``ValueError``), anything else that is no module :class:`dispkit.inputs.InputTypeError`.
    """
    if prior is None:  # smplify's "no pose prior"
        return None
    if not isinstance(prior, str):
        if not callable(prior):
            raise inputs.InputTypeError(f"prior must be a name ('gmm', 'vposer', 'cnf', each optionally ':PATH'), a "
                                        f"module or None, got {type(prior).__name__}")
        return prior
    try:
        model = _load_named(prior)
        if ":" in prior:  # a user's file: it must give a finite prior at the rest pose
            with torch.no_grad():
                zero = {"global_orient": torch.zeros(1, 3), "body_pose": torch.zeros(1, 69),
                        "betas": torch.zeros(1, 10), "transl": torch.zeros(1, 3)}
                if hasattr(model, "latent_init"):
                    out = model.pose_from_latent(model.latent_init(zero), zero)
                else:
                    out = model(zero["body_pose"], zero["betas"])
                spd, prec = True, getattr(model, "precisions", None)
                if isinstance(prec, torch.Tensor):  # a mixture: its covariances must be positive definite
                    prec = prec.double()
                    spd = bool((torch.linalg.cholesky_ex(0.5 * (prec + prec.mT)).info == 0).all())
            if not spd or not bool(torch.isfinite(out).all()):
                raise inputs.FileContentError(f"prior {prior!r}: the file gives a non-finite prior at the rest pose, "
                                              "or covariances that are not positive definite (NaN/inf in it?)")
        return model
    except (inputs.InputError, FileNotFoundError):
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, EOFError, RuntimeError, OSError,
            ImportError, OverflowError, pickle.UnpicklingError, UnicodeDecodeError) as e:  # a file of something else
        raise inputs.FileContentError(f"prior {prior!r}: the file holds no {prior.partition(':')[0]} prior "
                                      f"({type(e).__name__}: {inputs.one_line(e)})") from e


@functools.lru_cache(maxsize=16)
def _load_named(prior: str) -> nn.Module:
    """A prior by name, loaded once per process (every SMPLify call with ``prior="gmm"`` shares it)."""
    name, _, path = prior.partition(":")
    path = os.path.expanduser(path) if path else None
    if name == "gmm":
        if path is None:
            path = PRIOR_DIR / "gmm_open.npz"
            if not path.is_file():
                raise FileNotFoundError(f"the open GMM is missing from this installation ({path}); rebuild it with "
                                        "`python data_scripts/fit_open_gmm.py`")
        return GMMPrior.from_file(path)
    if name == "vposer":
        return VPoser.load(path)
    if name == "cnf":
        return ConditionalFlowPrior.load(path)
    raise inputs.UnknownNameError(f"unknown prior {prior!r}: use 'gmm', 'vposer', 'cnf' (each optionally ':PATH') or "
                                  "a module")


class GMMPrior(nn.Module):
    """SMPLify's Gaussian-mixture pose prior over ``body_pose`` [B,69]: the negative log-likelihood of the
    best component, ``min_k ½ (θ − μ_k)ᵀ Σ_k⁻¹ (θ − μ_k) − log(w_k / √|Σ_k| · const)`` (SMPLify's
    "max-mixture" approximation)."""

    def __init__(self, means, covars, weights, name: str = "gmm"):
        super().__init__()
        means = torch.as_tensor(np.asarray(means), dtype=torch.float64)
        covars = torch.as_tensor(np.asarray(covars), dtype=torch.float64)
        weights = torch.as_tensor(np.asarray(weights), dtype=torch.float64).reshape(-1)
        K, D = means.shape
        if covars.shape != (K, D, D) or weights.shape != (K,):
            raise ValueError(f"GMM shapes disagree: means {tuple(means.shape)}, covars {tuple(covars.shape)}, "
                             f"weights {tuple(weights.shape)}")
        if D != 69:
            raise ValueError(f"the GMM pose prior models body_pose (69 values), got dimension {D}")
        _, logdet = torch.linalg.slogdet(covars)
        # SMPLify's weighting: w_k / (const * sqrt|Σ_k|), normalised by the smallest determinant for stability
        nll_w = torch.log(weights) - 0.5 * (logdet - logdet.min()) - 0.5 * D * math.log(2 * math.pi)
        self.register_buffer("means", means.float())
        self.register_buffer("precisions", torch.linalg.inv(covars).float())
        self.register_buffer("log_weights", nll_w.float())
        self.name = name

    def forward(self, body_pose: torch.Tensor, betas: torch.Tensor | None = None) -> torch.Tensor:
        d = body_pose[:, None, :] - self.means.to(body_pose.dtype)  # [B,K,69]
        m = torch.einsum("bki,kij,bkj->bk", d, self.precisions.to(d.dtype), d)
        return (0.5 * m - self.log_weights.to(d.dtype)).min(1).values

    @classmethod
    def from_file(cls, path) -> GMMPrior:
        """``gmm_08.pkl`` (SMPLify's format: ``means``, ``covars``, ``weights``) or an ``.npz`` with those keys."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no GMM prior at {path}. {asset_help('gmm_08')} Without it, the open "
                                    "mixture shipped with dispkit (prior='gmm') is used.")
        if path.suffix == ".npz":
            d = dict(np.load(path))
        else:
            with path.open("rb") as f:
                d = pickle.load(f, encoding="latin1")
        missing = {"means", "covars", "weights"} - set(d)
        if missing:
            raise ValueError(f"{path} is not a GMM prior file: missing {sorted(missing)}")
        return cls(d["means"], d["covars"], d["weights"], name=f"gmm:{path.name}")




def _rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """VPoser's continuous rotation representation: [...,6] read as a 3x2 matrix -> Gram-Schmidt -> [...,3,3]."""
    import roma

    return roma.special_gramschmidt(x.reshape(*x.shape[:-1], 3, 2))


class _NormalHead(nn.Module):
    def __init__(self, cin: int, latent: int):
        super().__init__()
        self.mu = nn.Linear(cin, latent)
        self.logvar = nn.Linear(cin, latent)

    def forward(self, x):
        return torch.distributions.Normal(self.mu(x), nn.functional.softplus(self.logvar(x)))


class _Flatten(nn.Module):
    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class _Rot6D(nn.Module):
    def forward(self, x):
        return _rot6d_to_matrix(x.reshape(x.shape[0], -1, 6))


class VPoser(nn.Module):
    """VPoser V02: a VAE over the 21 body joints' axis-angles (SMPL's body_pose[:63]; the hands are not modelled).

    Layer layout and names follow human_body_prior's V02 so that its checkpoints load.
    """

    num_joints = 21

    def __init__(self, num_neurons: int = 512, latent: int = 32):
        super().__init__()
        n = self.num_joints * 3
        self.latent = latent
        self.encoder_net = nn.Sequential(
            _Flatten(), nn.BatchNorm1d(n), nn.Linear(n, num_neurons), nn.LeakyReLU(), nn.BatchNorm1d(num_neurons),
            nn.Dropout(0.1), nn.Linear(num_neurons, num_neurons), nn.Linear(num_neurons, num_neurons),
            _NormalHead(num_neurons, latent))
        self.decoder_net = nn.Sequential(
            nn.Linear(latent, num_neurons), nn.LeakyReLU(), nn.Dropout(0.1), nn.Linear(num_neurons, num_neurons),
            nn.LeakyReLU(), nn.Linear(num_neurons, self.num_joints * 6), _Rot6D())

    def encode(self, body_pose: torch.Tensor) -> torch.distributions.Normal:
        """q(z | pose) for ``body_pose`` [B,63] (or [B,69]: the hand joints are dropped)."""
        return self.encoder_net(body_pose[:, :63])

    def decode_matrix(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder_net(z)  # [B,21,3,3]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Body pose [B,63] axis-angle from latent codes [B,32]."""
        import roma

        return roma.rotmat_to_rotvec(self.decode_matrix(z)).reshape(z.shape[0], 63)

    # -- the latent-prior interface of dispkit.fit.smplify ------------------------------------------------
    def latent_init(self, init: dict) -> torch.Tensor:
        with torch.no_grad():
            return self.encode(init["body_pose"]).mean

    def pose_from_latent(self, z: torch.Tensor, init: dict) -> torch.Tensor:
        """The full body_pose [B,69] of the fit: the decoded 21 joints plus the constant residual
        ``θ_init − decode(encode(θ_init))``, and the initial estimate's two hand joints.

        Decoding loses detail: through the open VPoser, ``decode(encode(θ_init))`` alone moves a pare-like estimate
        by several millimetres MPJPE before any data term acts. With the residual the fit starts at ``θ_init``
        exactly (at ``z = latent_init(init)``), and the latent code still carries every change the fit makes."""
        theta = init["body_pose"].to(z.dtype)
        with torch.no_grad():
            residual = theta[:, :63] - self.decode(self.encode(theta).mean)
        return torch.cat([self.decode(z) + residual, theta[:, 63:]], 1)

    # -- files -----------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path=None) -> VPoser:
        """dispkit's open VPoser (``path=None``), a ``.pt`` written by :meth:`save`, or human_body_prior's V02
        checkpoint folder (``V02_05/`` with ``snapshots/*.ckpt``) or ``.ckpt`` file."""
        path = PRIOR_DIR / "vposer_open.pt" if path is None else Path(path).expanduser()
        if path.is_dir():
            ckpts = sorted(path.glob("snapshots/*.ckpt")) or sorted(path.glob("*.ckpt"))
            if not ckpts:
                raise FileNotFoundError(f"no VPoser checkpoint (snapshots/*.ckpt) in {path}. {_vposer_help()}")
            path = ckpts[-1]
        if not path.is_file():
            raise FileNotFoundError(f"no VPoser at {path}. {_vposer_help()}")
        state = torch.load(path, map_location="cpu", weights_only=False)
        if isinstance(state, dict) and state.get("format") == "dispkit-vposer/1":
            model = cls(**state["config"])
            model.load_state_dict({k: v.float() for k, v in state["state_dict"].items()})
            return model.eval()
        sd = state.get("state_dict", state) if isinstance(state, dict) else None
        if not isinstance(sd, dict):
            raise ValueError(f"{path} is not a VPoser checkpoint")
        sd = {k.split("vp_model.", 1)[-1]: v for k, v in sd.items() if "encoder_net" in k or "decoder_net" in k}
        if not sd:
            raise ValueError(f"{path} holds no VPoser weights (encoder_net/decoder_net)")
        model = cls(num_neurons=sd["decoder_net.0.weight"].shape[0], latent=sd["decoder_net.0.weight"].shape[1])
        model.load_state_dict(sd)
        return model.eval()

    def save(self, path, half: bool = True, extra: dict | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        sd = {k: (v.half() if half and v.is_floating_point() else v) for k, v in self.state_dict().items()}
        torch.save({"format": "dispkit-vposer/1", "config": {"num_neurons": self.decoder_net[0].out_features,
                                                              "latent": self.latent},
                    "state_dict": sd, "extra": extra or {}}, path)
        return path


class ConditionalFlowPrior(nn.Module):
    """cNF: p(θ − θ_init | θ_init), affine coupling layers (zuko MAF, two passes), body pose in axis-angle.

    ``scale`` standardises the correction (set from the training data). Latent interface for
    :func:`dispkit.fit.smplify`: the fit starts at the initial estimate's code and penalises ``||z||²``.
    """

    def __init__(self, features: int = 69, transforms: int = 6, hidden: tuple = (256, 256)):
        super().__init__()
        import zuko

        self.config = {"features": features, "transforms": transforms, "hidden": tuple(hidden)}
        self.flow = zuko.flows.MAF(features, context=features, transforms=transforms, passes=2,
                                   hidden_features=tuple(hidden))
        self.register_buffer("scale", torch.ones(features))

    def _dist(self, context):
        return self.flow(context)

    def log_prob(self, body_pose, init_pose) -> torch.Tensor:
        """log p(θ | θ_init) up to the constant of the standardisation [B]."""
        return self._dist(init_pose).log_prob((body_pose - init_pose) / self.scale)

    def to_latent(self, body_pose, init_pose) -> torch.Tensor:
        return self._dist(init_pose).transform((body_pose - init_pose) / self.scale)

    def from_latent(self, z, init_pose) -> torch.Tensor:
        return init_pose + self._dist(init_pose).transform.inv(z) * self.scale

    # -- the latent-prior interface of dispkit.fit.smplify ------------------------------------------------
    def latent_init(self, init: dict) -> torch.Tensor:
        with torch.no_grad():
            return self.to_latent(init["body_pose"], init["body_pose"])

    def pose_from_latent(self, z, init: dict) -> torch.Tensor:
        return self.from_latent(z, init["body_pose"].to(z.dtype))

    @classmethod
    def load(cls, path=None) -> ConditionalFlowPrior:
        path = PRIOR_DIR / "cnf_open.pt" if path is None else Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no cNF prior at {path}; train one with `python data_scripts/train_open_priors.py"
                                    " --cnf`")
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or state.get("format") != "dispkit-cnf/1":
            raise ValueError(f"{path} is not a dispkit cNF prior")
        model = cls(**state["config"])
        model.load_state_dict({k: v.float() for k, v in state["state_dict"].items()})
        return model.eval()

    def save(self, path, half: bool = True, extra: dict | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        sd = {k: (v.half() if half and v.is_floating_point() else v) for k, v in self.state_dict().items()}
        cfg = dict(self.config, hidden=list(self.config["hidden"]))
        torch.save({"format": "dispkit-cnf/1", "config": cfg, "state_dict": sd, "extra": extra or {}}, path)
        return path
