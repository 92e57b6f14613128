"""Data for the kit: seeded synthetic scenes (:mod:`dispkit.data.synthetic`), the open stand-in
for SURREAL / 3DPW / RICH, and readers for the real datasets' files (:mod:`dispkit.data.real`)."""
from dispkit.data.real import (
    LICENSED_ASSETS,
    Frames,
    densepose_to_pixels,
    read_3dpw,
    read_densepose,
    read_h36m_spin,
    read_openpose_sequence,
    read_rich,
    read_surreal_info,
)
from dispkit.data.synthetic import (
    ANATOMICAL_LIMITS,
    KEY_POSES,
    POSE_KINDS,
    REGRESSOR_PRESETS,
    Scene,
    estimated_texture,
    euler_to_axis_angle,
    make_background,
    make_scene,
    make_texture,
    sample_euler_pose,
    sample_params,
    sample_pose,
    scene_params,
    simulate_regressor,
    texture_part_map,
)

__all__ = ["ANATOMICAL_LIMITS", "KEY_POSES", "POSE_KINDS", "REGRESSOR_PRESETS", "Scene", "estimated_texture",
           "euler_to_axis_angle", "make_background", "make_scene", "make_texture", "sample_euler_pose",
           "sample_params", "sample_pose", "scene_params", "simulate_regressor", "texture_part_map",
           # real datasets (dispkit.data.real)
           "LICENSED_ASSETS", "Frames", "densepose_to_pixels", "read_3dpw", "read_densepose", "read_h36m_spin",
           "read_openpose_sequence", "read_rich", "read_surreal_info"]
