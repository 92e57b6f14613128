"""Data for the kit: synthetic scenes and their parts, simulated detectors, training samples, real-data readers.

The synthetic stand-in for SURREAL / 3DPW / RICH is split by job: :mod:`~dispkit.data.poses`,
:mod:`~dispkit.data.appearance` (textures, backgrounds, shading), :mod:`~dispkit.data.regressors` (simulated
PARE / HMR+ / ProHMR errors) and :mod:`~dispkit.data.synthetic` (whole scenes); :mod:`~dispkit.data.observations`
simulates the detectors, :mod:`~dispkit.data.training` makes the network's samples. The real datasets' files are
read by one module per format (:mod:`~dispkit.data.threedpw`, :mod:`~dispkit.data.rich`, :mod:`~dispkit.data.h36m`,
:mod:`~dispkit.data.surreal`, :mod:`~dispkit.data.openpose`, :mod:`~dispkit.data.densepose`) into
:class:`~dispkit.data.frames.Frames`."""
from dispkit.data.appearance import degraded_texture, make_background, make_texture, texture_part_map
from dispkit.data.densepose import densepose_to_pixels, read_densepose
from dispkit.data.frames import Frames
from dispkit.data.h36m import read_h36m_spin
from dispkit.data.openpose import read_openpose_sequence
from dispkit.data.poses import (
    ANATOMICAL_LIMITS,
    KEY_POSES,
    POSE_KINDS,
    euler_to_axis_angle,
    sample_euler_pose,
    sample_pose,
)
from dispkit.data.regressors import REGRESSOR_PRESETS, simulate_regressor
from dispkit.data.rich import read_rich
from dispkit.data.surreal import read_surreal_info
from dispkit.data.synthetic import Scene, make_scene, sample_params, scene_params
from dispkit.data.threedpw import read_3dpw
from dispkit.licensed import LICENSED_ASSETS

__all__ = ["ANATOMICAL_LIMITS", "KEY_POSES", "POSE_KINDS", "REGRESSOR_PRESETS", "Scene", "degraded_texture",
           "euler_to_axis_angle", "make_background", "make_scene", "make_texture", "sample_euler_pose",
           "sample_params", "sample_pose", "scene_params", "simulate_regressor", "texture_part_map",
           # real datasets (dispkit.data.frames, .threedpw, .rich, .h36m, .surreal, .densepose, .openpose;
           # the registry from dispkit.licensed)
           "LICENSED_ASSETS", "Frames", "densepose_to_pixels", "read_3dpw", "read_densepose", "read_h36m_spin",
           "read_openpose_sequence", "read_rich", "read_surreal_info"]
