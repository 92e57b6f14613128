"""Licensed assets dispkit never ships (SMPL, gmm_08.pkl, VPoser, ProHMR, datasets): where to get them, where it looks.

Every asset is an entry of :data:`LICENSED_ASSETS`: its project page (where to register or download) and the
files dispkit expects under the data root (:func:`data_root`: ``$DISPKIT_DATA``, default ``~/dispkit_data``).
The kit's errors quote the registry (:func:`asset_help`, :func:`missing_asset_error`), and
``python data_scripts/licensed_assets.py --check`` lists what is in place (:func:`asset_status`).
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LICENSED_ASSETS", "LicensedAsset", "asset_help", "asset_status", "data_root", "missing_asset_error"]


@dataclass(frozen=True)
class LicensedAsset:
    """A licensed model, weight file or dataset: where to register and where dispkit expects it.

    ``files`` are glob patterns relative to the data root (:func:`data_root`); each must match something,
    and ``"a | b"`` accepts either alternative.
    """

    key: str
    title: str
    url: str
    files: tuple[str, ...]
    notes: str = ""

    def missing(self, root: str | os.PathLike | None = None) -> list[str]:
        """The entries of :attr:`files` with nothing in place under ``root``."""
        base = data_root(root)
        return [entry for entry in self.files
                if not any(next(base.glob(p.strip()), None) is not None for p in entry.split("|"))]


LICENSED_ASSETS: dict[str, LicensedAsset] = {a.key: a for a in (
    LicensedAsset(
        "smpl", "SMPL body model (gender-neutral; male/female for 3DPW and SURREAL ground truth)",
        "https://smpl.is.tue.mpg.de",
        ("body_models/smpl/SMPL_NEUTRAL.pkl | body_models/smpl/SMPL_NEUTRAL.npz"
         " | body_models/smpl/basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",),
        "Download 'SMPL for Python' (v1.1.0); the gender-neutral basicModel_neutral_lbs_10_207_0_v1.0.0.pkl comes "
        "with SMPLify (https://smplify.is.tue.mpg.de); put SMPL_MALE.pkl / SMPL_FEMALE.pkl beside it. "
        "load_body_model('smpl') looks in $DISPKIT_SMPL_DIR, data/body_models/smpl/ and <root>/body_models/smpl/; "
        "or pass the file or its folder to load_body_model(path). chumpy is not needed. "
        "Without SMPL, use load_body_model('open')."),
    LicensedAsset(
        "gmm_08", "SMPLify's GMM pose prior gmm_08.pkl", "https://smplify.is.tue.mpg.de",
        ("priors/gmm_08.pkl",),
        "Also in SPIN's data (github.com/nkolot/SPIN, fetch_data.sh -> data/gmm_08.pkl). "
        "Use prior='gmm:<root>/priors/gmm_08.pkl'."),
    LicensedAsset(
        "vposer", "VPoser v2 (V02_05) pose prior", "https://smpl-x.is.tue.mpg.de",
        ("priors/V02_05/snapshots/*.ckpt",),
        "Download 'VPoser v2.0' after registering and unzip it. Use prior='vposer:<root>/priors/V02_05'."),
    LicensedAsset(
        "prohmr", "ProHMR pretrained checkpoint", "https://github.com/nkolot/ProHMR",
        ("prohmr/data/checkpoint.pt",),
        "ProHMR's fetch_data.sh downloads data.tar.gz (data/checkpoint.pt); unpack it under <root>/prohmr/. "
        "Trained on licensed data: check ProHMR's licence before use."),
    LicensedAsset(
        "h36m_regressor", "Human3.6M joint regressor J_regressor_h36m.npy (the papers' 14 LSP evaluation joints)",
        "https://github.com/nkolot/SPIN",
        ("body_models/J_regressor_h36m.npy",),
        "SPIN's fetch_data.sh (data/J_regressor_h36m.npy; ProHMR ships the same file). For SMPL meshes only. "
        "python -m dispkit.protocol --joints-regressor <path> uses it; without it the model's 24 joints are used "
        "and labelled as such."),
    LicensedAsset(
        "3dpw", "3DPW (3D Poses in the Wild)", "https://virtualhumans.mpi-inf.mpg.de/3DPW",
        ("3DPW/sequenceFiles/test/*.pkl", "3DPW/imageFiles/*/image_00000.jpg"),
        "Read a sequence with read_3dpw('<root>/3DPW/sequenceFiles/test/<seq>.pkl', image_dir='<root>/3DPW')."),
    LicensedAsset(
        "rich", "RICH (Real scenes, Interaction, Contact and Humans)", "https://rich.is.tue.mpg.de",
        ("RICH/bodies_smpl/*/*/*/*.pkl | RICH/bodies/*/*/*/*.pkl | RICH/*_body/*/*/*.pkl",
         "RICH/scan_calibration/*/calibration/*.xml",
         "RICH/images/*/*/cam_*/*"),
        "Layout of github.com/paulchhuang/rich_toolkit (bodies/<split>/<seq>/<frame>/<subject>.pkl). "
        "Bodies are SMPL-X: also get SMPL-X (https://smpl-x.is.tue.mpg.de); python -m dispkit.protocol --data "
        "rich:<root>/RICH:test needs SMPL fitted to them (smplx's transfer_model) under RICH/bodies_smpl/test/."),
    LicensedAsset(
        "h36m", "Human3.6M (SPIN's preprocessed npz and extracted frames)", "http://vision.imar.ro/human3.6m",
        ("h36m/h36m_valid_protocol1.npz | h36m/h36m_valid_protocol2.npz", "h36m/images/*.jpg"),
        "The npz files come with SPIN's data (github.com/nkolot/SPIN, fetch_data.sh -> data/dataset_extras/); "
        "the frames are extracted from the licensed videos by SPIN's datasets/preprocess/h36m.py."),
    LicensedAsset(
        "surreal", "SURREAL (synthetic humans)", "https://www.di.ens.fr/willow/research/surreal",
        ("SURREAL/cmu/*/run*/*/*_info.mat",),
        "After registering, download with github.com/gulvarol/surreal download/download_surreal.sh "
        "(cmu/{train,val,test}/run{0,1,2}/<seq>/<clip>_info.mat and .mp4)."),
)}


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root``, else ``$DISPKIT_DATA``, else ``~/dispkit_data``."""
    return Path(root or os.environ.get("DISPKIT_DATA") or "~/dispkit_data").expanduser()


def asset_status(root: str | os.PathLike | None = None) -> list[tuple[LicensedAsset, list[str]]]:
    """Each asset of :data:`LICENSED_ASSETS` with the list of its missing entries (empty: in place)."""
    return [(asset, asset.missing(root)) for asset in LICENSED_ASSETS.values()]


def asset_help(key: str) -> str:
    """One paragraph: where to get asset ``key`` and where dispkit expects it."""
    a = LICENSED_ASSETS[key]
    files = "; ".join(a.files)
    return (f"{a.title} is licensed and not shipped with dispkit: register/download at {a.url}. "
            f"Expected under the data root ({data_root()}): {files}. {a.notes}")


def missing_asset_error(key: str, tried: Iterable[str | os.PathLike] = (), what: str | None = None
                        ) -> FileNotFoundError:
    """The error for licensed asset ``key`` not found (to ``raise``): what is missing and where dispkit looked,
    then :func:`asset_help` (what the asset is, where to get it, the data root and the layout expected there).

    ``what`` names the missing thing (default: the asset's title); ``tried`` lists the paths looked at: one
    gives ``"<what> not found: <path>"``, several ``"<what> not found; tried: <a>, <b>"``.
    """
    tried = [str(t) for t in tried]
    head = f"{what or LICENSED_ASSETS[key].title} not found"
    if len(tried) == 1:
        head += f": {tried[0]}"
    elif tried:
        head += f"; tried: {', '.join(tried)}"
    return FileNotFoundError(f"{head}\n{asset_help(key)}")
