"""Pictures: meshes (matplotlib and interactive plotly), 2D skeletons over images.

Everything takes numpy arrays or tensors (CPU or CUDA); nothing here is part of
the method, it only shows it.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["BODY25_EDGES", "SMPL_EDGES", "controls_box", "draw_arrows", "draw_skeleton", "flow_to_rgb", "flow_wheel",
           "interactive_figure", "mask_outline", "mesh_limits", "modality_image", "plot_mesh", "plot_views",
           "plotly_mesh", "show_plotly", "slider", "sparse_pixels", "to_numpy"]

# OpenPose BODY_25 limbs (pairs of keypoint indices), as OpenPose draws them
BODY25_EDGES = ((1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
                (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21),
                (11, 22), (22, 23), (11, 24))
# SMPL's kinematic tree as (parent, child)
SMPL_EDGES = tuple((p, c) for c, p in enumerate((-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17,
                                                  18, 19, 20, 21)) if p >= 0)


def to_numpy(x) -> np.ndarray:
    """Tensor (any device, with or without grad) or array -> numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _view_xy(v: np.ndarray, view: str) -> tuple[np.ndarray, np.ndarray]:
    if view == "front":
        return v[:, [0, 1]], v[:, 2]
    if view == "side":
        return np.stack([-v[:, 2], v[:, 1]], 1), v[:, 0]
    if view == "back":
        return np.stack([-v[:, 0], v[:, 1]], 1), -v[:, 2]
    raise ValueError(f"view must be 'front', 'side' or 'back', got {view!r}")


def mesh_limits(vertices, view: str = "front", margin: float = 0.05) -> tuple[float, float, float, float]:
    """``(xmin, xmax, ymin, ymax)`` of :func:`plot_mesh`'s view of one or several meshes ([V,3] or [B,V,3]), with
    ``margin`` (metres) around: pass it as ``limits=`` to draw several bodies at one scale."""
    v = to_numpy(vertices).astype(np.float64).reshape(-1, 3)
    xy, _ = _view_xy(v, view)
    lo, hi = xy.min(0) - margin, xy.max(0) + margin
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def plot_mesh(ax, vertices, faces, colors=None, view: str = "front", light=(0.3, 0.5, 1.0), limits=None):
    """Draw a mesh with flat Lambert shading on a 2D matplotlib axis (orthographic view).

    ``view`` is "front" (looking along -Z, SMPL's frame), "side" (from the body's
    left, +X) or "back". Triangles are sorted back to front (painter's algorithm),
    good enough for pictures of one body. ``limits`` ``(xmin, xmax, ymin, ymax)`` in metres (e.g. from
    :func:`mesh_limits` of all the meshes to compare) fixes the scale; by default the axis fits this mesh.
    """
    from matplotlib.collections import PolyCollection

    v, f = to_numpy(vertices).astype(np.float64), to_numpy(faces).astype(np.int64)
    xy, depth = _view_xy(v, view)
    tri3 = np.stack([xy[f][..., 0], xy[f][..., 1], depth[f]], -1)
    n = np.cross(tri3[:, 1] - tri3[:, 0], tri3[:, 2] - tri3[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    lam = np.abs(n @ (np.asarray(light) / np.linalg.norm(light)))
    base = np.full((len(f), 3), 0.75) if colors is None else to_numpy(colors)[f].mean(1)[:, :3]
    shade = np.clip(base * (0.35 + 0.65 * lam[:, None]), 0, 1)
    order = np.argsort(depth[f].mean(1))
    pc = PolyCollection(xy[f][order], facecolors=shade[order], edgecolors="none", antialiased=False)
    ax.add_collection(pc)
    x0, x1, y0, y1 = limits if limits is not None else mesh_limits(v, view)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax


def plotly_mesh(vertices, faces, colors=None, joints=None, title: str = "", height: int = 600,
                opacity: float | None = None, edges=SMPL_EDGES):
    """An interactive plotly figure of a mesh (SMPL frame shown Y up), optional joints as markers.

    With ``joints`` [J,3] the mesh is drawn translucent (``opacity``, default 0.35) so that the joints, inside
    the body, stay visible; ``edges`` (parent, child) pairs join them into the skeleton (SMPL's tree for 24
    joints; ``None``: markers only).
    """
    import plotly.graph_objects as go

    v, f = to_numpy(vertices), to_numpy(faces)
    kw = {}
    if colors is not None:
        c = (np.clip(to_numpy(colors)[:, :3], 0, 1) * 255).astype(np.uint8)
        kw["vertexcolor"] = [f"rgb({r},{g},{b})" for r, g, b in c]
    else:
        kw["color"] = "lightgray"
    if opacity is None:
        opacity = 0.35 if joints is not None else 1.0
    data = [go.Mesh3d(x=v[:, 0], y=v[:, 2], z=v[:, 1], i=f[:, 0], j=f[:, 1], k=f[:, 2], flatshading=False,
                      opacity=opacity, lighting=dict(ambient=0.5, diffuse=0.8, specular=0.1), name="mesh",
                      hoverinfo="skip", **kw)]
    if joints is not None:
        j = to_numpy(joints)
        if edges is not None and len(j) == 24:
            xs, ys, zs = [], [], []
            for a, b in edges:
                xs += [j[a, 0], j[b, 0], None]
                ys += [j[a, 2], j[b, 2], None]
                zs += [j[a, 1], j[b, 1], None]
            data.append(go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", line=dict(color="black", width=4),
                                     name="kinematic tree", hoverinfo="skip"))
        from dispkit.body import SMPL_JOINT_NAMES

        names = list(SMPL_JOINT_NAMES) if len(j) == 24 else [str(i) for i in range(len(j))]
        data.append(go.Scatter3d(x=j[:, 0], y=j[:, 2], z=j[:, 1], mode="markers", text=names,
                                 hovertemplate="%{text}<extra></extra>",
                                 marker=dict(size=5, color="crimson", line=dict(color="black", width=1)),
                                 name="joints"))
    fig = go.Figure(data=data)
    lo, hi = v.min(0), v.max(0)
    pad = 0.08 * float((hi - lo).max())
    rng = {ax: [float(lo[i]) - pad, float(hi[i]) + pad] for ax, i in (("xaxis", 0), ("yaxis", 2), ("zaxis", 1))}
    fig.update_layout(title=title, height=height, margin=dict(l=0, r=0, t=30 if title else 0, b=0),
                      legend=dict(x=0.01, y=0.98),
                      scene=dict(aspectmode="data", xaxis_title="x", yaxis_title="z", zaxis_title="y (up)",
                                 xaxis=dict(range=rng["xaxis"]), yaxis=dict(range=rng["yaxis"]),
                                 zaxis=dict(range=rng["zaxis"]),
                                 camera=dict(eye=dict(x=0.0, y=2.6, z=0.3), up=dict(x=0, y=0, z=1))))
    return fig


def show_plotly(fig):
    """Show a plotly figure so it is interactive both in JupyterLab and in the exported HTML.

    ``plotly_mimetype`` is what JupyterLab draws; ``notebook_connected`` adds an HTML output so nbconvert's HTML of
    an executed notebook keeps the figure (it loads plotly.js from plotly's CDN; :func:`dispkit.notebooks.to_html`
    puts the library inline instead, so the page works offline).
    """
    fig.show(renderer="plotly_mimetype+notebook_connected")


def draw_skeleton(ax, keypoints, edges=BODY25_EDGES, confidence=None, color="lime", size: float = 12,
                  linewidth: float = 2.0, label: str | None = None):
    """Draw 2D keypoints [N,2] (pixels, x right, y down) and their limbs on an image axis."""
    kp = to_numpy(keypoints)
    ok = np.ones(len(kp), bool) if confidence is None else to_numpy(confidence) > 0
    for a, b in edges:
        if ok[a] and ok[b]:
            ax.plot(kp[[a, b], 0], kp[[a, b], 1], "-", color=color, lw=linewidth)
    ax.scatter(kp[ok, 0], kp[ok, 1], s=size, c=color, edgecolors="k", linewidths=0.5, zorder=3, label=label)
    return ax


# --------------------------------------------------------------------------- rendered modalities

MODALITY_TITLES = {"rgb": "RGB (texture)", "depth": "depth (camera z)", "normal": "normals (camera space)",
                   "vertex_color": "unique vertex colours", "mask": "mask", "face_index": "triangle index",
                   "bary": "barycentrics", "uv": "texture coordinates"}


def modality_image(views: dict, key: str, index: int = 0, background=1.0) -> np.ndarray:
    """One modality of :func:`dispkit.render.render` as a displayable RGB image [H,W,3] in [0, 1].

    depth: near = bright, far = dark (viridis) over the foreground; normal: the usual normal-map
    colours (x right = red, y up = green, z toward the viewer = blue); face_index: a random colour
    per triangle; bary: (u, v, 1 - u - v) as RGB; uv: (u, v, 0). Background pixels get ``background``.
    """
    import matplotlib

    m = to_numpy(views["rast"][index, ..., 3]) > 0
    x = to_numpy(views[key][index]) if key != "mask" else m.astype(np.float32)
    if key == "depth":
        img = np.zeros((*m.shape, 3), np.float32)
        if m.any():
            lo, hi = x[m].min(), x[m].max()
            img = matplotlib.colormaps["viridis"](1.0 - (x - lo) / max(hi - lo, 1e-9))[..., :3]
    elif key == "normal":
        img = (x * np.array([1.0, -1.0, -1.0]) + 1.0) / 2.0  # OpenCV camera -> OpenGL normal-map colours
    elif key == "face_index":
        rng = np.random.default_rng(0)
        palette = rng.uniform(0.15, 1.0, size=(int(x.max()) + 2, 3))
        img = palette[x + 1]
    elif key == "uv":
        img = np.concatenate([x, np.zeros_like(x[..., :1])], -1)
    elif key == "mask":
        img = np.repeat(x[..., None], 3, -1)
    else:
        img = x
    img = np.clip(np.asarray(img, np.float32), 0.0, 1.0)
    if key != "mask":
        img[~m] = background
    return img


def plot_views(views: dict, keys=("rgb", "depth", "normal", "vertex_color", "mask", "face_index", "bary", "uv"),
               index: int = 0, ncols: int = 4, size: float = 3.0):
    """A grid of the rendered modalities of batch item ``index``; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    keys = [k for k in keys if k in views or k == "mask"]
    nrows = -(-len(keys) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * views["rast"].shape[1]
                                                    / views["rast"].shape[2]), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, key in zip(axes.ravel(), keys):
        ax.imshow(modality_image(views, key, index), interpolation="nearest")
        ax.set_title(MODALITY_TITLES.get(key, key))
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- displacement fields

def flow_to_rgb(field, mask=None, max_magnitude: float | None = None, background=1.0) -> np.ndarray:
    """A 2D field [H,W,2] as colours, an optical-flow-style HSV coding (a plain hue wheel, not Middlebury's): hue =
    direction, saturation = magnitude.

    Pixels right (+x) are red, down (+y, image rows) yellow-green, left cyan, up blue-violet; white means no
    displacement (and the background, by default, is white too). ``max_magnitude`` (default: the 99th percentile
    over the mask) maps to full saturation. Pixels outside ``mask`` get ``background``.
    """
    import matplotlib.colors as mcolors

    f = to_numpy(field).astype(np.float64)
    m = np.ones(f.shape[:-1], bool) if mask is None else to_numpy(mask).astype(bool)
    mag = np.linalg.norm(f, axis=-1)
    if max_magnitude is None:
        max_magnitude = float(np.percentile(mag[m], 99)) if m.any() else 1.0
    ang = (np.arctan2(f[..., 1], f[..., 0]) / (2 * np.pi)) % 1.0
    hsv = np.stack([ang, np.clip(mag / max(max_magnitude, 1e-9), 0, 1), np.ones_like(ang)], -1)
    rgb = mcolors.hsv_to_rgb(hsv)
    rgb[~m] = background
    return rgb.astype(np.float32)


def flow_wheel(size: int = 64) -> np.ndarray:
    """The colour key of :func:`flow_to_rgb`: a disc whose rim is the maximum magnitude."""
    y, x = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    f = np.stack([x, y], -1)
    return flow_to_rgb(f, np.hypot(x, y) <= 1, max_magnitude=1.0)


def draw_arrows(ax, points, vectors, color="yellow", width: float = 0.003, scale: float = 1.0, **kw):
    """Arrows from ``points`` [N,2] (pixels) along ``vectors`` [N,2] (pixels, drawn at true length x scale)."""
    p, v = to_numpy(points), to_numpy(vectors)
    ax.quiver(p[:, 0], p[:, 1], v[:, 0] * scale, v[:, 1] * scale, angles="xy", scale_units="xy", scale=1.0,
              color=color, width=width, **kw)
    return ax


def sparse_pixels(mask, step: int = 8):
    """Pixel centres (x, y) [N,2] on a regular grid of ``step`` inside ``mask`` [H,W] and their (rows, cols)."""
    m = to_numpy(mask).astype(bool)
    sub = np.zeros_like(m)
    sub[step // 2::step, step // 2::step] = True
    i, j = np.nonzero(m & sub)
    return np.stack([j + 0.5, i + 0.5], -1), (i, j)


def mask_outline(mask) -> np.ndarray:
    """Boolean outline [H,W] of a mask (pixels inside with a 4-neighbour outside)."""
    m = to_numpy(mask).astype(bool)
    p = np.pad(m, 1)
    inner = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m & ~inner


# --------------------------------------------------------------------------- interactive figures (ipywidgets)

def slider(description: str, min: float, max: float, step: float, value: float = 0.0, integer: bool = False,
           width: str = "420px", **kw):
    """A slider whose label is never truncated (``description_width: initial``) and which redraws when released
    (``continuous_update=False``: one redraw per move, not one per pixel dragged)."""
    import ipywidgets as widgets

    cls = widgets.IntSlider if integer else widgets.FloatSlider
    return cls(value=value, min=min, max=max, step=step, description=description, continuous_update=False,
               style={"description_width": "initial"}, layout=widgets.Layout(width=width), **kw)


def controls_box(controls: dict, per_row: int = 2):
    """The controls (name -> widget) laid out in rows of ``per_row``."""
    import ipywidgets as widgets

    items = list(controls.values())
    return widgets.VBox([widgets.HBox(items[i:i + per_row]) for i in range(0, len(items), per_row)])


def interactive_figure(draw, controls: dict, per_row: int = 2, css_class: str = "dispkit-interactive"):
    """Controls above an output area that ``draw(**values)`` redraws whenever a control changes.

    Built on ``ipywidgets.interactive_output``: ``draw`` runs once at once with the controls' initial values (so a
    headless run, e.g. papermill, executes the same code), then again on every change in a live notebook. The
    returned box carries the CSS class ``css_class`` (the browser test finds it by that). Display it with
    ``display(box)``, or let it be a cell's last value.
    """
    import ipywidgets as widgets

    if os.environ.get("DISPKIT_HEADLESS") == "1":  # papermill / nbval: no front end to talk to the widgets, so
        # draw once with the initial values and show no controls (an Output widget without a front end can hang
        # nbclient's execution of the cell)
        from IPython.display import HTML

        draw(**{name: c.value for name, c in controls.items()})
        return HTML("")
    out = widgets.interactive_output(draw, controls)
    out.add_class(f"{css_class}-output")
    box = widgets.VBox([controls_box(controls, per_row), out])
    box.add_class(css_class)
    return box
