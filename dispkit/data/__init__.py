"""Data for the kit: seeded synthetic scenes (:mod:`dispkit.data.synthetic`), the open stand-in
for SURREAL / 3DPW / RICH."""
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
           "sample_params", "sample_pose", "scene_params", "simulate_regressor", "texture_part_map"]
