"""dispkit.raster: rasterize / interpolate / texture against independent references.

References: trimesh ray casting at pixel centres (visibility, barycentrics, depth),
analytic ray-plane intersections (perspective-correct interpolation), analytic pixel
counts (watertightness), hand-computed bilinear lookups, and the "torch" backend as an
oracle for the "cpu" (numba) backend.
"""
import math

import numpy as np
import pytest
import torch
import trimesh

from dispkit import raster
from dispkit.raster import interpolate, rasterize, texture
from dispkit.raycast import cast_rays

NEAR, FAR = 0.5, 20.0


# --------------------------------------------------------------------------- helpers

def projection(fovy_deg, W, H, near=NEAR, far=FAR, cx=0.0, cy=0.0):
    """OpenGL perspective matrix (camera looks down -z); (cx, cy) shift the principal point in NDC."""
    f = 1.0 / math.tan(math.radians(fovy_deg) / 2)
    return np.array([[f * H / W, 0, cx, 0],
                     [0, f, cy, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
                     [0, 0, -1, 0]], dtype=np.float64)


P = projection(45.0, 96, 72, cx=0.04, cy=-0.03)
H, W = 72, 96


def to_clip(verts, proj=P):
    v = np.asarray(verts, dtype=np.float64)
    return np.concatenate([v, np.ones(v.shape[:-1] + (1,))], -1) @ proj.T


def rotation(axis, angle):
    return trimesh.transformations.rotation_matrix(angle, axis)[:3, :3]


def pixel_ndc(H, W):
    """NDC (x, y) of every pixel centre, [H,W,2]; row i of the array is y_ndc = (i+0.5)*2/H - 1."""
    x = (np.arange(W) + 0.5) * 2.0 / W - 1.0
    y = (np.arange(H) + 0.5) * 2.0 / H - 1.0
    return np.stack(np.broadcast_arrays(x[None, :], y[:, None]), -1)


def pixel_rays(H, W, proj=P):
    """Camera-space rays through the pixel centres: origins on the near plane, unit directions."""
    ndc = pixel_ndc(H, W).reshape(-1, 2)
    q = np.concatenate([ndc, -np.ones((len(ndc), 1)), np.ones((len(ndc), 1))], 1) @ np.linalg.inv(proj).T
    near_pts = q[:, :3] / q[:, 3:]
    d = near_pts / np.linalg.norm(near_pts, axis=1, keepdims=True)
    return near_pts, d


def ray_cast(verts, faces, H, W, proj=P):
    """trimesh ray casting through pixel centres -> (tri id [H,W] or -1, hit location [H,W,3])."""
    origins, dirs = pixel_rays(H, W, proj)
    ids, hit = cast_rays(verts, faces, origins, dirs)
    return ids.reshape(H, W), hit.reshape(H, W, 3)


def bary_points(rast, verts, faces):
    """Camera-space point reconstructed from (u, v) of each covered pixel, [H,W,3] (nan on background)."""
    r = rast.double().numpy()
    tid = r[..., 3].astype(np.int64) - 1
    f = faces[np.maximum(tid, 0)]
    u, v = r[..., 0:1], r[..., 1:2]
    pts = u * verts[f[..., 0]] + v * verts[f[..., 1]] + (1 - u - v) * verts[f[..., 2]]
    pts[tid < 0] = np.nan
    return pts


def icosphere_scene():
    s = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    verts = s.vertices @ rotation([1, 2, 0.5], 0.7).T + [0.2, -0.1, -3.6]
    return verts, np.asarray(s.faces)


def torus_scene():
    t = trimesh.creation.torus(major_radius=1.0, minor_radius=0.35, major_sections=96, minor_sections=64)
    verts = t.vertices @ rotation([1, 0.3, 0], 1.15).T + [-0.1, 0.15, -4.0]
    return verts, np.asarray(t.faces)


def _adjacent(faces, t1, t2):
    return len(set(faces[t1]) & set(faces[t2])) > 0


@pytest.fixture(scope="module", params=["icosphere", "torus"])
def scene(request):
    verts, faces = icosphere_scene() if request.param == "icosphere" else torus_scene()
    rast = rasterize(torch.from_numpy(to_clip(verts)), torch.from_numpy(faces), (H, W), backend="cpu")
    ids, hit = ray_cast(verts, faces, H, W)
    return request.param, verts, faces, rast, ids, hit


# --------------------------------------------------------------------------- vs ray casting

def test_ids_match_ray_casting(scene):
    name, verts, faces, rast, ray_ids, hit = scene
    assert rast.shape == (1, H, W, 4) and rast.dtype == torch.float32
    ours = rast[0, ..., 3].numpy().astype(np.int64) - 1
    fg = (ours >= 0) | (ray_ids >= 0)
    assert 0.2 < fg.mean() < 0.8, f"{name}: the mesh should cover a good part of the frame"
    agree = (ours == ray_ids) & fg
    rate = agree.sum() / fg.sum()
    assert rate >= 0.995, f"{name}: id agreement {rate:.4%}"
    u, v = rast[0, ..., 0].numpy(), rast[0, ..., 1].numpy()
    for i, j in zip(*np.nonzero(fg & ~agree)):
        a, b = ours[i, j], ray_ids[i, j]
        if a >= 0 and b >= 0:
            assert _adjacent(faces, a, b), f"{name}: pixel {(i, j)}: ours {a}, ray {b} are not adjacent"
        elif a >= 0:  # we cover, the ray misses: the centre must be on our triangle's edge
            assert min(u[i, j], v[i, j], 1 - u[i, j] - v[i, j]) < 1e-5, f"{name}: spurious pixel {(i, j)}"
        else:  # the ray hits, we do not: the hit must be on the outline of its triangle
            bary = trimesh.triangles.points_to_barycentric(verts[faces[b]][None], hit[i, j][None])[0]
            assert bary.min() < 1e-5, f"{name}: pixel {(i, j)} missed (ray hits triangle {b})"


def test_barycentrics_and_depth_match_ray_hits(scene):
    name, verts, faces, rast, ray_ids, hit = scene
    size = np.linalg.norm(verts.max(0) - verts.min(0))
    ours = rast[0, ..., 3].numpy().astype(np.int64) - 1
    pts = bary_points(rast[0], verts, faces)
    same = (ours >= 0) & (ours == ray_ids)
    err = np.linalg.norm(pts[same] - hit[same], axis=-1)
    assert err.max() < 1e-4 * size, f"{name}: barycentric reconstruction error {err.max():.2e}"
    # every covered pixel: the reconstructed point projects onto the pixel centre
    fg = ours >= 0
    clip = to_clip(pts[fg])
    ndc = clip[:, :2] / clip[:, 3:]
    assert np.abs(ndc - pixel_ndc(H, W)[fg]).max() < 1e-5
    # z/w equals the z/w of the ray hit
    clip_hit = to_clip(hit[same])
    zw = clip_hit[:, 2] / clip_hit[:, 3]
    np.testing.assert_allclose(rast[0, ..., 2].numpy()[same], zw, atol=2e-6, rtol=0)
    assert (np.abs(rast[0, ..., 2].numpy()[fg]) <= 1).all()


def test_cpu_and_torch_backends_agree(scene):
    name, verts, faces, rast, _, _ = scene
    pos = torch.from_numpy(to_clip(verts))
    ref = rasterize(pos, torch.from_numpy(faces), (H, W), backend="torch")
    ids_same = (rast[..., 3] == ref[..., 3]).double().mean().item()
    assert ids_same >= 0.9999, f"{name}: {ids_same:.5%}"
    both = (rast[..., 3] == ref[..., 3]) & (rast[..., 3] > 0)
    assert (rast[both][:, :3] - ref[both][:, :3]).abs().max() <= 1e-6
    # chunking over triangles does not change the result
    chunked = raster._rasterize_torch(pos[None], torch.from_numpy(faces), H, W, chunk_fragments=5000)
    assert torch.equal(chunked, ref)


def test_backends_agree_on_triangle_soup_with_near_plane_crossings():
    gen = np.random.default_rng(3)
    n = 300
    centres = gen.uniform([-3, -3, -12], [3, 3, 1], size=(n, 1, 3))  # some behind the eye (z > 0)
    verts = (centres + gen.normal(scale=0.9, size=(n, 3, 3))).reshape(-1, 3)
    faces = np.arange(3 * n).reshape(n, 3)
    pos = to_clip(verts)
    pos[5, 3] = 1e-12  # a vertex barely in front of the eye: huge NDC coordinates
    pos[7] = pos[6]  # a degenerate triangle (two equal vertices)
    pos2 = to_clip(verts @ rotation([0, 1, 0], 0.3).T)
    batch = torch.from_numpy(np.stack([pos, pos2]))
    a = rasterize(batch, torch.from_numpy(faces), (48, 64), backend="cpu")
    b = rasterize(batch, torch.from_numpy(faces), (48, 64), backend="torch")
    assert (a[..., 3] == b[..., 3]).double().mean() >= 0.9999
    same = (a[..., 3] == b[..., 3]) & (a[..., 3] > 0)
    assert (a[same] - b[same]).abs().max() <= 1e-6
    assert (a[..., 3] > 0).any()
    assert (a[..., 2].abs() <= 1).all()


# --------------------------------------------------------------------------- perspective correctness

def test_perspective_correct_interpolation_on_a_tilted_plane():
    # a 2 x 2 square at 65 degrees to the image plane; attributes: plane coordinates (s, t) and xyz
    st = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    R = rotation([1, 0, 0], math.radians(-65))
    origin = np.array([-1.0, -1.2, -3.0])
    e_s, e_t = R @ [2.0, 0, 0], R @ [0, 2.0, 0]
    verts = origin + st[:, :1] * e_s + st[:, 1:] * e_t
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    rast = rasterize(torch.from_numpy(to_clip(verts)), torch.from_numpy(faces), (H, W))
    attr = torch.from_numpy(np.concatenate([st, verts], 1)).float()
    out = interpolate(attr, rast, torch.from_numpy(faces))[0].double().numpy()  # [H,W,5]
    fg = rast[0, ..., 3].numpy() > 0
    assert fg.sum() > 500
    # analytic ray-plane intersection for each covered pixel
    _, d = pixel_rays(H, W)
    d = d.reshape(H, W, 3)[fg]
    n = np.cross(e_s, e_t)
    t = (origin @ n) / (d @ n)
    x = t[:, None] * d  # rays from the eye (the near-plane origin lies on the same ray)
    M = np.stack([e_s, e_t, n], 1)
    s_t = np.linalg.solve(M, (x - origin).T).T[:, :2]
    np.testing.assert_allclose(out[fg][:, 2:], x, atol=1e-5)
    np.testing.assert_allclose(out[fg][:, :2], s_t, atol=1e-5)
    # the test discriminates: screen-space affine interpolation would be far off
    clip = to_clip(verts)
    ndc = clip[:, :2] / clip[:, 3:]
    A = np.concatenate([ndc, np.ones((4, 1))], 1)
    coef, *_ = np.linalg.lstsq(A[[0, 1, 2]], st[[0, 1, 2]], rcond=None)
    affine = np.concatenate([pixel_ndc(H, W)[fg], np.ones((fg.sum(), 1))], 1) @ coef
    tri0 = rast[0, ..., 3].numpy()[fg] == 1
    assert np.abs(affine[tri0] - s_t[tri0]).max() > 0.05


# --------------------------------------------------------------------------- clipping / culling

def _cube(center, size=1.0):
    box = trimesh.creation.box(extents=[size] * 3)
    return box.vertices + center, np.asarray(box.faces)


def test_mesh_behind_camera_renders_nothing():
    verts, faces = _cube([0.0, 0.0, 3.0])  # OpenGL camera looks down -z: z > 0 is behind
    for backend in ("cpu", "torch"):
        rast = rasterize(torch.from_numpy(to_clip(verts)), torch.from_numpy(faces), (H, W), backend=backend)
        assert not rast.any()
    # the same mesh mirrored in front is visible (sanity check of the set-up)
    rast = rasterize(torch.from_numpy(to_clip(verts * [1, 1, -1])), torch.from_numpy(faces), (H, W))
    assert rast[..., 3].gt(0).sum() > 50


@pytest.mark.parametrize("center", [[50.0, 0.0, -3.0], [0.0, -40.0, -3.0], [0.0, 0.0, -100.0],
                                    [0.0, 0.0, -0.2]])
def test_mesh_outside_frustum_renders_nothing(center):
    verts, faces = _cube(center, size=0.2)  # beside, below, beyond far, in front of near
    for backend in ("cpu", "torch"):
        rast = rasterize(torch.from_numpy(to_clip(verts)), torch.from_numpy(faces), (H, W), backend=backend)
        assert not rast.any(), backend


def test_triangle_crossing_the_near_plane():
    verts = np.array([[-2.0, -1.5, 1.0], [2.5, -1.0, -6.0], [-1.0, 2.0, -4.0]])  # first vertex behind the eye
    faces = np.array([[0, 1, 2]])
    pos = torch.from_numpy(to_clip(verts))
    rast = rasterize(pos, torch.from_numpy(faces), (H, W), backend="cpu")
    ref = rasterize(pos, torch.from_numpy(faces), (H, W), backend="torch")
    assert torch.equal(rast, ref)
    fg = rast[0, ..., 3].numpy() > 0
    assert 0.05 < fg.mean() < 0.95
    pts = bary_points(rast[0], verts, faces)[fg]
    assert (pts[:, 2] <= -NEAR + 1e-6).all(), "fragments in front of the near plane"
    ray_ids, hit = ray_cast(verts, faces, H, W)  # rays start on the near plane
    agree = ((ray_ids >= 0) == fg).mean()
    assert agree >= 0.995
    both = fg & (ray_ids >= 0)
    assert np.abs(pts[both[fg]] - hit[both]).max() < 1e-4


def test_triangle_crossing_the_far_plane_is_cut():
    verts = np.array([[-1.0, -1.0, -3.0], [1.5, -0.5, -3.0], [0.0, 1.2, -60.0]])
    faces = np.array([[0, 1, 2]])
    pos = torch.from_numpy(to_clip(verts))
    rast = rasterize(pos, torch.from_numpy(faces), (H, W))
    assert torch.equal(rast, rasterize(pos, torch.from_numpy(faces), (H, W), backend="torch"))
    fg = rast[0, ..., 3].numpy() > 0
    pts = bary_points(rast[0], verts, faces)[fg]
    assert fg.sum() > 100 and (pts[:, 2] >= -FAR - 1e-4).all() and pts[:, 2].min() < -0.9 * FAR
    assert rast[0, ..., 2].max() <= 1.0


def test_out_argument():
    verts, faces = icosphere_scene()
    pos, f = torch.from_numpy(to_clip(verts)), torch.from_numpy(faces)
    buf = torch.full((1, H, W, 4), 7.0)
    for backend in ("cpu", "torch"):
        res = rasterize(pos, f, (H, W), backend=backend, out=buf)
        assert res.data_ptr() == buf.data_ptr()
        assert torch.equal(buf, rasterize(pos, f, (H, W)))
        buf.fill_(7.0)
    with pytest.raises(ValueError, match="out must be"):
        rasterize(pos, f, (H, W), out=torch.empty(1, H, W, 3))


def test_non_finite_vertices_raise():
    verts, faces = _cube([0.0, 0.0, -3.0])
    pos = torch.from_numpy(to_clip(verts))
    pos[2, 1] = float("nan")
    pos[5, 3] = float("inf")
    with pytest.raises(ValueError, match="2 vertices with non-finite"):
        rasterize(pos, torch.from_numpy(faces), (H, W))


def test_bad_inputs_raise():
    verts, faces = _cube([0.0, 0.0, -3.0])
    pos = torch.from_numpy(to_clip(verts))
    f = torch.from_numpy(faces)
    with pytest.raises(ValueError, match="out of range"):
        rasterize(pos, f + 1, (H, W))
    with pytest.raises(ValueError, match="out of range"):
        rasterize(pos, f - 1, (H, W))
    with pytest.raises(ValueError, match=r"\[B,N,4\]"):
        rasterize(pos[:, :3], f, (H, W))
    with pytest.raises(ValueError, match=r"\[B,N,4\]"):
        rasterize(pos[None, None], f, (H, W))
    with pytest.raises(ValueError, match=r"\[F,3\]"):
        rasterize(pos, f[:, :2], (H, W))
    with pytest.raises(ValueError, match="integer"):
        rasterize(pos, f.double(), (H, W))
    with pytest.raises(ValueError, match="resolution"):
        rasterize(pos, f, (0, W))
    with pytest.raises(ValueError, match="backend"):
        rasterize(pos, f, (H, W), backend="opengl")


# --------------------------------------------------------------------------- batching, shapes

def test_batch_renders_each_item_like_a_single_call():
    verts, faces = icosphere_scene()
    f = torch.from_numpy(faces)
    items = []
    for k, (axis, angle, shift) in enumerate([([0, 1, 0], 0.0, [0, 0, 0]),
                                               ([1, 0, 0], 0.8, [0.6, 0.2, -1.0]),
                                               ([0, 0, 1], 2.0, [-0.8, -0.3, 1.2])]):
        c = verts.mean(0)
        items.append(to_clip((verts - c) @ rotation(axis, angle).T + c + shift))
    batch = torch.from_numpy(np.stack(items))
    for backend in ("cpu", "torch"):
        rast = rasterize(batch, f, (H, W), backend=backend)
        assert rast.shape == (3, H, W, 4)
        for k in range(3):
            single = rasterize(batch[k], f, (H, W), backend=backend)
            assert single.shape == (1, H, W, 4)  # [N,4] input works and gives a batch of 1
            assert torch.equal(rast[k], single[0]), (backend, k)
    assert not torch.equal(rast[0], rast[1])


def test_float32_input_requires_grad_and_num_threads():
    verts, faces = icosphere_scene()
    pos = torch.from_numpy(to_clip(verts)).float().requires_grad_(True)
    a = rasterize(pos, torch.from_numpy(faces).int(), (H, W), num_threads=1)
    b = rasterize(pos.detach().double(), torch.from_numpy(faces), (H, W), num_threads=2)
    assert not a.requires_grad
    assert torch.equal(a, b)
    assert raster.get_num_threads() >= 1
    raster.set_num_threads(1)
    try:
        assert raster.get_num_threads() == 1
        assert torch.equal(rasterize(pos, torch.from_numpy(faces), (H, W)), a)
    finally:
        raster.set_num_threads(None)


def test_empty_faces_and_warmup():
    pos = torch.zeros(4, 4)
    rast = rasterize(pos, torch.zeros(0, 3, dtype=torch.long), (8, 6))
    assert rast.shape == (1, 8, 6, 4) and not rast.any()
    assert raster.warmup() >= 0.0
    assert "cpu" in raster.available_backends() and "torch" in raster.available_backends()


# --------------------------------------------------------------------------- watertightness

def _greedy_vertex_colouring(faces):
    """Colour triangles so that no two triangles sharing a vertex get the same colour."""
    by_vertex = {}
    colour = -np.ones(len(faces), dtype=np.int64)
    for t, f in enumerate(faces):
        used = {colour[o] for v in f for o in by_vertex.get(v, ())}
        c = 0
        while c in used:
            c += 1
        colour[t] = c
        for v in f:
            by_vertex.setdefault(v, []).append(t)
    return colour


def _coverage_counts(pos, faces, res, backend):
    """Per-pixel number of triangles covering it, from renders of vertex-disjoint colour classes."""
    colour = _greedy_vertex_colouring(faces)
    total = np.zeros(res, dtype=np.int64)
    for c in range(colour.max() + 1):
        sub = faces[colour == c]
        r = rasterize(pos, torch.from_numpy(sub), res, backend=backend)
        total += (r[0, ..., 3].numpy() > 0)
    return total


def _grid(nx, ny, x0, x1, y0, y1, xs=None, ys=None, flip_pattern=True):
    xs = np.linspace(x0, x1, nx + 1) if xs is None else xs
    ys = np.linspace(y0, y1, ny + 1) if ys is None else ys
    gx, gy = np.meshgrid(xs, ys)
    verts = np.stack([gx.ravel(), gy.ravel()], 1)
    idx = np.arange((nx + 1) * (ny + 1)).reshape(ny + 1, nx + 1)
    faces = []
    for r in range(ny):
        for c in range(nx):
            a, b, cc, d = idx[r, c], idx[r, c + 1], idx[r + 1, c + 1], idx[r + 1, c]
            if flip_pattern and (r + c) % 2:  # alternate the diagonal
                faces += [[a, b, d], [b, cc, d]]
            else:
                faces += [[a, b, cc], [a, cc, d]]
    faces = np.array(faces)
    gen = np.random.default_rng(0)
    faces = faces[gen.permutation(len(faces))]
    faces = np.stack([np.roll(f, gen.integers(3)) for f in faces])  # cyclic: orientation kept
    return verts, faces


@pytest.mark.parametrize("backend", ["cpu", "torch"])
def test_shared_edges_are_watertight_in_screen_aligned_grid(backend):
    Hh, Ww = 32, 64  # powers of two: pixel centres and all edge functions below are exact
    cx = (np.arange(Ww) + 0.5) * 2.0 / Ww - 1.0  # pixel centres
    cy = (np.arange(Hh) + 0.5) * 2.0 / Hh - 1.0
    # interior grid lines, vertices and cell diagonals exactly through pixel centres (so the
    # tie rule decides); the outer boundary a quarter pixel off, so the count is unambiguous
    xs = np.concatenate([[cx[5] - 0.25 * 2 / Ww], cx[6:58:2], [cx[58] + 0.25 * 2 / Ww]])
    ys = np.concatenate([[cy[2] - 0.25 * 2 / Hh], cy[3:30:2], [cy[30] + 0.25 * 2 / Hh]])
    verts2, faces = _grid(len(xs) - 1, len(ys) - 1, 0, 0, 0, 0, xs=xs, ys=ys)
    pos = np.concatenate([verts2, np.zeros((len(verts2), 1)), np.ones((len(verts2), 1))], 1)
    pos = torch.from_numpy(pos)
    rast = rasterize(pos, torch.from_numpy(faces), (Hh, Ww), backend=backend)
    covered = rast[0, ..., 3].numpy() > 0
    expected = np.zeros((Hh, Ww), dtype=bool)
    expected[2:31, 5:59] = True  # pixel centres strictly inside the quad
    assert covered.sum() == expected.sum() == 29 * 54
    assert (covered == expected).all(), "holes or spill outside the quad"
    counts = _coverage_counts(pos, faces, (Hh, Ww), backend)
    assert counts.max() == 1, f"{(counts > 1).sum()} pixels covered twice"
    assert (counts == covered).all()


def test_shared_edges_are_watertight_under_perspective():
    # a finely tessellated tilted quad covers exactly the pixels of the same quad as 2 triangles
    st, faces = _grid(37, 23, 0.0, 1.0, 0.0, 1.0)
    R = rotation([1, 0.4, 0], math.radians(-55))
    origin = np.array([-1.1, -0.9, -3.2])
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])

    def place(uv):
        return origin + uv[:, :1] * (R @ [2.2, 0, 0]) + uv[:, 1:] * (R @ [0, 1.9, 0])

    pos = torch.from_numpy(to_clip(place(st)))
    fine = rasterize(pos, torch.from_numpy(faces), (H, W))[0, ..., 3].numpy() > 0
    coarse = rasterize(torch.from_numpy(to_clip(place(corners))), torch.tensor([[0, 1, 2], [0, 2, 3]]),
                       (H, W))[0, ..., 3].numpy() > 0
    assert coarse.sum() > 1000
    assert (fine != coarse).sum() <= 2  # only if a pixel centre sits on the outline itself
    counts = _coverage_counts(pos, faces, (H, W), "cpu")
    assert counts.max() == 1 and (counts.astype(bool) == fine).all()


# --------------------------------------------------------------------------- interpolate

def test_interpolate_constant_and_linear_attributes():
    verts, faces = icosphere_scene()
    f = torch.from_numpy(faces)
    pos = torch.from_numpy(np.stack([to_clip(verts), to_clip(verts + [0.3, 0, 0])]))
    rast = rasterize(pos, f, (H, W))
    fg = rast[..., 3] > 0
    const = torch.full((len(verts), 2), 0.0)
    const[:, 0], const[:, 1] = 3.5, -1.25
    out = interpolate(const, rast, f)
    assert out.shape == (2, H, W, 2)
    assert torch.allclose(out[fg], torch.tensor([3.5, -1.25]), atol=1e-5)
    assert not out[~fg].any()
    # a linear function of the (per-item) camera-space position, batched attributes
    A = torch.tensor([[0.5, -2.0, 1.0], [1.5, 0.25, -0.75]], dtype=torch.float64)
    vb = torch.from_numpy(np.stack([verts, verts + [0.3, 0, 0]]))
    attr = vb @ A.T + torch.tensor([0.1, -0.2], dtype=torch.float64)
    out = interpolate(attr, rast, f)
    assert out.dtype == torch.float64
    pts = torch.from_numpy(np.stack([bary_points(rast[k], vb[k].numpy(), faces) for k in range(2)]))
    expect = pts @ A.T + torch.tensor([0.1, -0.2], dtype=torch.float64)
    assert torch.allclose(out[fg], expect[fg], atol=1e-9)
    # attr of batch 1 broadcasts; batch mismatch raises
    assert torch.equal(interpolate(attr[:1], rast, f)[0], out[0])
    with pytest.raises(ValueError, match="batch"):
        interpolate(attr.repeat(2, 1, 1), rast, f)


def test_interpolate_hand_example():
    pos = torch.tensor([[-1.0, -1.0, 0.0, 1.0], [3.0, -1.0, 0.0, 1.0], [-1.0, 3.0, 0.0, 1.0]])
    rast = rasterize(pos, torch.tensor([[0, 1, 2]]), (2, 2))
    # pixel (row 0, col 1) has NDC (0.5, -0.5): weights u = 0.5, v = 0.375, 1-u-v = 0.125
    assert torch.allclose(rast[0, 0, 1], torch.tensor([0.5, 0.375, 0.0, 1.0]))
    attr = torch.tensor([[1.0], [10.0], [100.0]])
    out = interpolate(attr, rast, torch.tensor([[0, 1, 2]]))
    # (x, y) = (-1, -1) + w1 (4, 0) + w2 (0, 4): vertex 1 weighs (x + 1) / 4, vertex 2 (y + 1) / 4
    for i in range(2):
        for j in range(2):
            x, y = (j + 0.5) - 1.0, (i + 0.5) - 1.0
            w1, w2 = (x + 1) / 4, (y + 1) / 4
            assert out[0, i, j, 0].item() == pytest.approx((1 - w1 - w2) * 1 + w1 * 10 + w2 * 100)


# --------------------------------------------------------------------------- texture

TEX = torch.tensor([[[1.0], [2.0], [4.0]],
                    [[8.0], [16.0], [32.0]]])  # Ht = 2 rows, Wt = 3 columns


def _uv(*pairs):
    return torch.tensor(pairs, dtype=torch.float32).view(1, 1, len(pairs), 2)


def test_texture_bilinear_hand_values():
    uv = _uv((1 / 6, 0.25),  # centre of texel (row 0, col 0)
             (5 / 6, 0.75),  # centre of texel (row 1, col 2)
             (1 / 3, 0.25),  # between cols 0 and 1 of row 0
             (0.5, 0.5),  # between rows 0/1 at col 1 centre
             (1 / 3, 0.5))  # centre of the 2x2 block rows 0-1, cols 0-1
    out = texture(TEX, uv)[0, 0, :, 0]
    expect = torch.tensor([1.0, 32.0, 1.5, 9.0, (1 + 2 + 8 + 16) / 4])
    assert torch.allclose(out, expect)
    # nearest
    near = texture(TEX, _uv((0.1, 0.1), (0.9, 0.9), (0.4, 0.6)), filter_mode="nearest")[0, 0, :, 0]
    assert torch.equal(near, torch.tensor([1.0, 32.0, 16.0]))


def test_texture_wrap_clamp_zero_at_the_border():
    uv = _uv((0.0, 0.25),  # half way between col 2 (wrapped) and col 0, row 0
             (1 / 6, 0.0),  # half way between row 1 (wrapped) and row 0, col 0
             (0.0, 0.0),  # corner: mean of the four corner texels under wrap
             (1.25, 0.25))  # u outside [0, 1]
    wrap = texture(TEX, uv, boundary_mode="wrap")[0, 0, :, 0]
    # u = 1.25 wraps to 0.25: x = 0.25 * 3 - 0.5 = 0.25 -> 0.75 * col0 + 0.25 * col1 of row 0
    assert torch.allclose(wrap, torch.tensor([(4 + 1) / 2, (8 + 1) / 2, (1 + 4 + 8 + 32) / 4, 1.25]))
    clamp = texture(TEX, uv, boundary_mode="clamp")[0, 0, :, 0]
    assert torch.allclose(clamp, torch.tensor([1.0, 1.0, 1.0, 4.0]))
    zero = texture(TEX, uv, boundary_mode="zero")[0, 0, :, 0]
    assert torch.allclose(zero, torch.tensor([0.5, 0.5, 0.25, 0.0]))


def test_texture_batching_and_validation():
    tex = torch.stack([TEX, 2 * TEX])  # [2,2,3,1]
    uv = _uv((1 / 6, 0.25), (0.5, 0.75)).expand(2, 1, 2, 2)
    out = texture(tex, uv)
    assert out.shape == (2, 1, 2, 1)
    assert torch.allclose(out[:, 0, :, 0], torch.tensor([[1.0, 16.0], [2.0, 32.0]]))
    assert torch.equal(texture(TEX, uv), texture(TEX[None], uv))  # [Ht,Wt,C] broadcasts
    nan_uv = _uv((float("nan"), 0.5))
    assert texture(TEX, nan_uv).item() == 0.0
    with pytest.raises(ValueError, match="boundary_mode"):
        texture(TEX, uv, boundary_mode="cube")
    with pytest.raises(ValueError, match="filter_mode"):
        texture(TEX, uv, filter_mode="linear-mipmap-linear")


# --------------------------------------------------------------------------- nvdiffrast

def test_cpu_matches_nvdiffrast():
    if not torch.cuda.is_available():
        pytest.skip("nvdiffrast comparison needs CUDA (no GPU here)")
    if "nvdiffrast" not in raster.available_backends():
        pytest.skip("nvdiffrast is not installed (pip install dispkit[gpu])")
    verts, faces = torus_scene()
    pos = torch.from_numpy(to_clip(verts)).float()
    f = torch.from_numpy(faces).int()
    res = (256, 320)
    cpu = rasterize(pos, f, res, backend="cpu")
    gpu = rasterize(pos.cuda(), f.cuda(), res, backend="auto")
    assert gpu.is_cuda
    gpu = gpu.cpu()
    fg = (cpu[..., 3] > 0) | (gpu[..., 3] > 0)
    agree = ((cpu[..., 3] == gpu[..., 3]) & fg).sum() / fg.sum()
    assert agree >= 0.99
    attr = torch.from_numpy(verts).float()
    a_cpu = interpolate(attr, cpu, f)
    a_gpu = interpolate(attr.cuda(), gpu.cuda(), f.cuda()).cpu()
    both = (cpu[..., 3] > 0) & (gpu[..., 3] > 0)
    size = float(np.linalg.norm(verts.max(0) - verts.min(0)))
    err = (a_cpu - a_gpu).norm(dim=-1)[both]
    assert err.median() < 1e-3 * size
    assert (err < 0.05 * size).float().mean() > 0.99
