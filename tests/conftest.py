"""Shared fixtures: the open body model (loaded once) and seeded posed meshes."""
import math

import pytest
import torch

from dispkit.body import load_body_model


@pytest.fixture(scope="session")
def body():
    return load_body_model("open")


def posed(body, B=1, seed=0):
    """Seeded, plausible-looking poses, roughly upright in the OpenCV camera (y down), ~2.5 m away."""
    g = torch.Generator().manual_seed(seed)
    pose = torch.zeros(B, 69)
    pose[:, 3 * 0] = -0.6 * torch.rand(B, generator=g)          # left hip flexion
    pose[:, 3 * 3] = 1.2 * torch.rand(B, generator=g)           # left knee
    pose[:, 3 * 15 + 2] = -0.8 - 0.4 * torch.rand(B, generator=g)  # left shoulder down
    pose[:, 3 * 16 + 2] = 0.8 + 0.4 * torch.rand(B, generator=g)   # right shoulder down
    pose[:, 3 * 18 + 1] = -1.0 * torch.rand(B, generator=g)     # right elbow
    go = torch.tensor([[math.pi, 0.0, 0.0]]).repeat(B, 1)
    go[:, 1] = 0.6 * (torch.rand(B, generator=g) - 0.5) * 2
    out = body(global_orient=go, body_pose=pose, betas=torch.randn(B, 10, generator=g) * 0.8,
               transl=torch.tensor([[0.0, 0.1, 2.5]]).repeat(B, 1))
    return out.vertices


