"""A real 2D keypoint detector beside the simulated ones: MediaPipe's BlazePose, mapped to OpenPose's BODY_25.

The paper's keypoint baselines fit SMPLify to OpenPose's BODY_25 detections (§4.1). OpenPose needs its own
weights; BlazePose (Bazarevsky et al. 2020, the pose model of MediaPipe) ships inside the ``mediapipe`` wheel
(Apache-2.0) and runs offline on a CPU, so the kit can put a real detector's errors -- misses, left/right swaps,
its own keypoint definition -- beside the simulated OpenPose's (:func:`dispkit.data.observations.simulate_openpose`).

BlazePose gives 33 landmarks; :data:`BODY25_FROM_BLAZEPOSE` maps the ones that correspond to BODY_25 (nose, eyes,
ears, shoulders, elbows, wrists, hips, knees, ankles, heels; its "foot index" as the big toe; Neck and MidHip as
the midpoints of the shoulders and of the hips). The small toes have no counterpart and stay missing
(confidence 0). A landmark's confidence is its ``visibility`` (the likelihood of being visible in the image); a
midpoint's is the smaller of its two. Where no person is found every confidence is 0.

The detector is an optional extra (its declared dependencies, jax and opencv-contrib, are not needed to run the
pose model)::

    pip install --no-deps mediapipe==0.10.14 && pip install -e ".[detector]"

``make setup`` installs both. Detections are cached per image under ``$DISPKIT_CACHE/detections/``
(default ``~/.cache/dispkit``), keyed by the image's bytes and the model settings.

    from dispkit.detectors import BlazePose
    kp, conf = BlazePose()(images)          # images [B,H,W,3] in [0,1] -> [B,25,2] pixels, [B,25]
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from dispkit.body import OPENPOSE_NAMES

__all__ = ["BLAZEPOSE_NAMES", "BODY25_FROM_BLAZEPOSE", "INSTALL", "LIMBS", "PHOTOGRAPHS", "BlazePose", "available",
           "error_structure", "missing_message", "photograph", "to_body25"]

MEDIAPIPE_VERSION = "0.10.14"   # the last release that ships the pose models and runs with numpy 2
INSTALL = f'pip install --no-deps mediapipe=={MEDIAPIPE_VERSION} && pip install -e ".[detector]"'

BLAZEPOSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)

#: BODY_25 keypoint -> the BlazePose landmark(s) it is read from (two: their midpoint). "left" is the person's left
#: in both skeletons. LSmallToe and RSmallToe have no counterpart.
BODY25_FROM_BLAZEPOSE = {
    "Nose": ("nose",), "Neck": ("left_shoulder", "right_shoulder"),
    "RShoulder": ("right_shoulder",), "RElbow": ("right_elbow",), "RWrist": ("right_wrist",),
    "LShoulder": ("left_shoulder",), "LElbow": ("left_elbow",), "LWrist": ("left_wrist",),
    "MidHip": ("left_hip", "right_hip"), "RHip": ("right_hip",), "RKnee": ("right_knee",),
    "RAnkle": ("right_ankle",), "LHip": ("left_hip",), "LKnee": ("left_knee",), "LAnkle": ("left_ankle",),
    "REye": ("right_eye",), "LEye": ("left_eye",), "REar": ("right_ear",), "LEar": ("left_ear",),
    "LBigToe": ("left_foot_index",), "LHeel": ("left_heel",), "RBigToe": ("right_foot_index",),
    "RHeel": ("right_heel",),
}


def available() -> bool:
    """Whether MediaPipe's pose solution can be imported here."""
    try:
        import mediapipe  # noqa: F401
        from mediapipe.python.solutions import pose  # noqa: F401
    except Exception:  # ImportError, or a broken install (protobuf versions)
        return False
    return True


def missing_message() -> str:
    return ("the BlazePose detector needs MediaPipe (optional): " + INSTALL + " -- without it the kit runs and the "
            "real-detector rows say 'not installed'")


def to_body25(landmarks: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BlazePose's landmarks ``[..., 33, 2]`` and visibilities ``[..., 33]`` -> BODY_25 keypoints ``[..., 25, 2]``
    and confidences ``[..., 25]`` (:data:`BODY25_FROM_BLAZEPOSE`; missing keypoints: zeros, confidence 0)."""
    landmarks, visibility = np.asarray(landmarks, np.float64), np.asarray(visibility, np.float64)
    kp = np.zeros((*landmarks.shape[:-2], 25, 2))
    conf = np.zeros((*landmarks.shape[:-2], 25))
    for j, name in enumerate(OPENPOSE_NAMES):
        src = BODY25_FROM_BLAZEPOSE.get(name)
        if not src:
            continue
        idx = [BLAZEPOSE_NAMES.index(s) for s in src]
        kp[..., j, :] = landmarks[..., idx, :].mean(-2)
        conf[..., j] = visibility[..., idx].min(-1)
    return kp, np.clip(conf, 0.0, 1.0)


def _cache_dir() -> Path:
    return Path(os.environ.get("DISPKIT_CACHE") or Path.home() / ".cache" / "dispkit") / "detections" / "blazepose"


class BlazePose:
    """MediaPipe's BlazePose on single images (``static_image_mode``: every image detected from scratch, as a
    per-frame detector such as OpenPose), returning BODY_25 keypoints in pixels and confidences.

    ``model_complexity`` 1 is the "full" landmark model that the wheel ships; ``cache``: keep detections on disk.
    """

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5, cache: bool = True):
        if not available():
            raise ImportError(missing_message())
        self.model_complexity = int(model_complexity)
        self.min_detection_confidence = float(min_detection_confidence)
        self.cache = bool(cache)
        self._pose = None

    def _solution(self):
        if self._pose is None:
            from mediapipe.python.solutions import pose

            self._pose = pose.Pose(static_image_mode=True, model_complexity=self.model_complexity,
                                   min_detection_confidence=self.min_detection_confidence)
        return self._pose

    def _key(self, image: np.ndarray) -> str:
        h = hashlib.sha1(image.tobytes())
        h.update(f"{image.shape}-{self.model_complexity}-{self.min_detection_confidence}-{MEDIAPIPE_VERSION}".encode())
        return h.hexdigest()

    def landmarks(self, image) -> tuple[np.ndarray, np.ndarray]:
        """The 33 landmarks of one image ``[H,W,3]`` (float in [0,1] or uint8): ``[33,2]`` pixels (x right, y down:
        MediaPipe's normalised coordinates times the width and height) and ``[33]`` visibilities (zeros when no
        person is found)."""
        img = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image)
        if img.ndim != 3 or img.shape[-1] != 3:
            raise ValueError(f"an image [H,W,3] was expected, got {img.shape}")
        if img.dtype != np.uint8:
            img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        img = np.ascontiguousarray(img)
        path = _cache_dir() / f"{self._key(img)}.npz"
        if self.cache and path.is_file():
            with np.load(path) as z:
                return z["landmarks"], z["visibility"]
        res = self._solution().process(img)
        H, W = img.shape[:2]
        if res.pose_landmarks is None:
            lm, vis = np.zeros((33, 2)), np.zeros(33)
        else:
            pts = res.pose_landmarks.landmark
            lm = np.array([[p.x * W, p.y * H] for p in pts], np.float64)
            vis = np.array([p.visibility for p in pts], np.float64)
        if self.cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, landmarks=lm, visibility=vis)
            os.replace(tmp, path)
        return lm, vis

    def __call__(self, images) -> tuple[torch.Tensor, torch.Tensor]:
        """BODY_25 detections of ``images`` [B,H,W,3]: keypoints [B,25,2] (full-image pixels) and confidences
        [B,25] (0 = missing)."""
        if isinstance(images, torch.Tensor) and images.ndim == 3:
            images = images[None]
        out = [self.landmarks(im) for im in images]
        kp, conf = to_body25(np.stack([o[0] for o in out]), np.stack([o[1] for o in out]))
        return torch.as_tensor(kp, dtype=torch.float32), torch.as_tensor(conf, dtype=torch.float32)

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None


#: the limbs whose left/right mix-ups :func:`error_structure` counts (BODY_25 names without the side letter)
LIMBS = {"arm": ("Elbow", "Wrist"), "leg": ("Knee", "Ankle")}


def error_structure(keypoints, confidence, truth, size, visible=None, outlier: float = 0.25,
                    missing: float = 0.1) -> dict:
    """The structure of a keypoint detector's errors against the true BODY_25 keypoints, for comparing detectors
    (a real one, a simulated one) on the same images.

    ``keypoints`` [N,25,2] and ``confidence`` [N,25] the detections, ``truth`` [N,25,2] the keypoints they should
    find, ``size`` [N] the person's size in pixels (errors are fractions of it), ``visible`` [N,25] bool (optional)
    which keypoints are unoccluded. Returns per keypoint the median and 90th-percentile error, the mean offset (x,
    y; the detector's definition gap), the spread about it (``spread_sigma``), the miss rate (confidence <
    ``missing``) and the outlier rate (error > ``outlier``, among the detected); per limb the left/right swap rate
    (a frame whose detected elbow + wrist, or knee + ankle, lie closer to the other side's true ones); and how
    confidence relates to error: the Spearman rank correlation over the detected keypoints and the median error per
    confidence quartile (and, with ``visible``, the miss rate and median confidence of visible and hidden
    keypoints).
    """
    from scipy.stats import spearmanr

    from dispkit.body import OPENPOSE_NAMES as names

    kp, conf, gt = (np.asarray(torch.as_tensor(x).detach().double().cpu()) for x in (keypoints, confidence, truth))
    s = np.asarray(torch.as_tensor(size).detach().double().cpu()).reshape(-1, 1)
    err = np.linalg.norm(kp - gt, axis=-1) / s                                          # [N,25]
    det = conf >= missing
    out = {"n_frames": int(len(kp)), "outlier_threshold": outlier, "missing_threshold": missing, "per_keypoint": {}}
    for j, n in enumerate(names):
        e = err[det[:, j], j]
        off = ((kp - gt)[det[:, j], j] / s[det[:, j]]) if det[:, j].any() else np.zeros((0, 2))
        # the spread about the mean offset, as the sigma of an isotropic Gaussian (median of a Rayleigh / 1.1774),
        # over the non-outliers
        inl = (e <= outlier) if len(e) else np.zeros(0, bool)
        spread = (float(np.median(np.linalg.norm(off[inl] - off[inl].mean(0), axis=-1)) / np.sqrt(2 * np.log(2)))
                  if inl.sum() > 1 else None)
        out["per_keypoint"][n] = {
            "median": float(np.median(e)) if len(e) else None, "p90": float(np.quantile(e, 0.9)) if len(e) else None,
            "offset": off.mean(0).tolist() if len(off) else None, "spread_sigma": spread,
            "miss_rate": float(1 - det[:, j].mean()), "outlier_rate": float((e > outlier).mean()) if len(e) else None}
    swaps = {}
    for limb, parts in LIMBS.items():
        r = [names.index("R" + p) for p in parts]
        l_ = [names.index("L" + p) for p in parts]
        ok = det[:, r + l_].all(1)
        def dist(a, b):
            return np.linalg.norm(kp[:, a] - gt[:, b], axis=-1).sum(1)

        same, cross = dist(r, r) + dist(l_, l_), dist(r, l_) + dist(l_, r)
        swaps[limb] = float((cross[ok] < 0.5 * same[ok]).mean()) if ok.any() else None
    out["swap_rate"] = swaps
    e, c = err[det], conf[det]
    out["all"] = {"median": float(np.median(e)), "p90": float(np.quantile(e, 0.9)),
                  "outlier_rate": float((e > outlier).mean()), "miss_rate": float(1 - det.mean()),
                  "spearman_conf_error": float(spearmanr(c, e).statistic) if len(e) > 2 else None}
    q = np.quantile(c, [0, 0.25, 0.5, 0.75, 1.0])
    out["error_by_confidence_quartile"] = [
        float(np.median(e[(c >= lo) & (c <= hi)])) if ((c >= lo) & (c <= hi)).any() else None
        for lo, hi in zip(q[:-1], q[1:])]
    if visible is not None:
        vis = np.asarray(torch.as_tensor(visible).detach().cpu()).astype(bool)
        for key, m in (("visible", vis), ("hidden", ~vis)):
            out[key] = {"share": float(m.mean()), "miss_rate": float(1 - det[m].mean()) if m.any() else None,
                        "median_confidence": float(np.median(conf[m & det])) if (m & det).any() else None,
                        "median_error": float(np.median(err[m & det])) if (m & det).any() else None}
    return out


#: photographs of people that packages on PyPI ship inside their wheels (:data:`dispkit.data.photos.PHOTOGRAPHS`
#: has their packages, files and licences): name -> (name there, what it shows). The kit's one meeting with real
#: images of people when no dataset is at hand.
PHOTOGRAPHS = {
    "cameraman": ("camera", "a man behind a camera on a tripod, head to knees"),
    "astronaut": ("astronaut", "Eileen Collins, upper body"),
    "grace_hopper": ("grace_hopper", "Grace Hopper, head and shoulders"),
}


def photograph(name: str = "cameraman") -> np.ndarray:
    """A photograph of a person from :data:`PHOTOGRAPHS` as ``[H,W,3]`` float in [0, 1] (grey ones as RGB), read
    from the installed package that ships it (:func:`dispkit.data.photos.load_photograph`)."""
    from dispkit.data.photos import load_photograph

    if name not in PHOTOGRAPHS:
        raise KeyError(f"no photograph {name!r}; there are {sorted(PHOTOGRAPHS)}")
    return load_photograph(PHOTOGRAPHS[name][0]).copy()
