"""The displacement network of §3.1: two encoder branches and a stacked hourglass.

*"The architecture of both branches is similar to the first stage of ResNet-50. The only adjustment we
make is to use a stride of 1 for all convolutional layers and to remove all max pooling layers. [...]
After mapping both input modalities to the common feature space, we concatenate the feature maps and use
a stacked hourglass network with 4 stacks to predict the 2D per-pixel displacement field."*

* :class:`Encoder` -- ResNet-50's stem (7x7 conv, BN, ReLU) and stage 1 (bottleneck blocks, expansion 4),
  stride 1 everywhere and no max-pool, so features keep the input resolution. One for the image (3
  channels), one for the stacked renderings (channels depend on the ablation, :data:`CHANNEL_SETS`).
* :class:`StackedHourglass` -- Newell et al.'s stacked hourglass on the concatenated features; every stack
  ends in a 1x1 head with 2 output channels (the displacement), fed back into the next stack.
* :class:`DisplacementNet` -- the whole model; ``forward`` returns the list of every stack's output (Eq. 3
  is applied to each), :meth:`DisplacementNet.predict` the last stack's field in pixels, masked.

Configs (:data:`CONFIGS`): ``paper`` (ResNet-50 widths 64/256, 4 stacks, 256 features, 256² crops; meant for
GPUs) and ``cpu`` (narrow, 2 stacks, 64² crops, trainable on 2 CPU cores). Inputs are channels-first
``[B,C,H,W]``; the network predicts displacements divided by ``config.field_scale`` (crop pixels) for
conditioning, and :meth:`predict` multiplies it back.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import nn

__all__ = ["CHANNEL_SETS", "CONFIGS", "DisplacementNet", "Encoder", "NetConfig", "StackedHourglass",
           "build", "load_pretrained", "render_inputs"]

# renderings stacked along the channel dimension for each ablation of Table 3 (and their channel counts)
CHANNEL_SETS = {
    "full": ("rgb", "depth", "normal", "vertex_color"),
    "no_texture": ("depth", "normal", "vertex_color"),
    "texture_only": ("rgb",),
}
_CHANNELS = {"rgb": 3, "depth": 1, "normal": 3, "vertex_color": 3}


@dataclass(frozen=True)
class NetConfig:
    """Sizes of the network. ``inputs`` is a key of :data:`CHANNEL_SETS`."""

    name: str = "paper"
    inputs: str = "full"
    stem_width: int = 64          # ResNet-50: 64
    block_width: int = 64         # bottleneck inner width of stage 1 (ResNet-50: 64; output 4x)
    blocks: int = 3               # bottlenecks in stage 1 (ResNet-50: 3)
    features: int = 256           # hourglass feature width
    stacks: int = 4               # the paper: 4
    depth: int = 4                # down-samplings inside one hourglass
    crop: int = 256               # square crop size the network is trained on
    field_scale: float = 16.0     # the network outputs displacement / field_scale (crop pixels)

    @property
    def render_channels(self) -> int:
        return sum(_CHANNELS[k] for k in CHANNEL_SETS[self.inputs])

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NetConfig:
        """From :meth:`to_dict` (keys this version does not know, e.g. an old checkpoint's ``extra``, are dropped)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


CONFIGS = {
    "paper": NetConfig(name="paper"),
    "cpu": NetConfig(name="cpu", stem_width=16, block_width=16, blocks=2, features=64, stacks=2, depth=3, crop=64,
                     field_scale=4.0),
    # the same layers on 96² crops (field_scale grows with the crop, so cpu_full's weights start it: --init);
    # fine-tuned 3000 steps it did not beat cpu_full on held-out scenes (README, "SMPLify refinement")
    "cpu96": NetConfig(name="cpu96", stem_width=16, block_width=16, blocks=2, features=64, stacks=2, depth=3,
                       crop=96, field_scale=6.0),
}


def build(config: str | NetConfig = "cpu", inputs: str | None = None) -> DisplacementNet:
    """A freshly initialised network of a named config (``"paper"``, ``"cpu"``) or a :class:`NetConfig`."""
    if isinstance(config, str):
        if config not in CONFIGS:
            raise ValueError(f"unknown config {config!r}; choose from {sorted(CONFIGS)}")
        config = CONFIGS[config]
    if inputs is not None:
        config = replace(config, inputs=inputs)
    return DisplacementNet(config)


# --------------------------------------------------------------------------- blocks

class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1 -> 3x3 -> 1x1, expansion 4) with stride 1 and a projection shortcut if needed."""

    def __init__(self, cin: int, width: int, cout: int | None = None):
        super().__init__()
        cout = 4 * width if cout is None else cout
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (nn.Identity() if cin == cout else
                     nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.body(x) + self.skip(x))


class Encoder(nn.Module):
    """ResNet-50's stem and first stage with stride 1 and no max-pool: [B,cin,H,W] -> [B,4*width,H,W]."""

    def __init__(self, cin: int, stem_width: int = 64, width: int = 64, blocks: int = 3):
        super().__init__()
        layers = [nn.Conv2d(cin, stem_width, 7, padding=3, bias=False), nn.BatchNorm2d(stem_width),
                  nn.ReLU(inplace=True)]
        c = stem_width
        for _ in range(blocks):
            layers.append(Bottleneck(c, width))
            c = 4 * width
        self.layers = nn.Sequential(*layers)
        self.out_channels = c

    def forward(self, x):
        return self.layers(x)


class Hourglass(nn.Module):
    """One hourglass: residual blocks at ``depth`` scales (max-pool down, nearest up, skip branches)."""

    def __init__(self, depth: int, features: int):
        super().__init__()
        w = max(features // 4, 1)
        self.up1 = Bottleneck(features, w, features)
        self.low1 = Bottleneck(features, w, features)
        self.low2 = Hourglass(depth - 1, features) if depth > 1 else Bottleneck(features, w, features)
        self.low3 = Bottleneck(features, w, features)

    def forward(self, x):
        up = self.up1(x)
        low = self.low3(self.low2(self.low1(nn.functional.max_pool2d(x, 2))))
        return up + nn.functional.interpolate(low, size=x.shape[-2:], mode="nearest")


class StackedHourglass(nn.Module):
    """Newell et al.'s stacked hourglass with a 2-channel head after every stack (intermediate supervision)."""

    def __init__(self, cin: int, features: int, stacks: int, depth: int, out_channels: int = 2):
        super().__init__()
        w = max(features // 4, 1)
        self.pre = Bottleneck(cin, w, features)
        self.hgs = nn.ModuleList(Hourglass(depth, features) for _ in range(stacks))
        self.feats = nn.ModuleList(nn.Sequential(Bottleneck(features, w, features),
                                                 nn.Conv2d(features, features, 1, bias=False),
                                                 nn.BatchNorm2d(features), nn.ReLU(inplace=True))
                                   for _ in range(stacks))
        self.heads = nn.ModuleList(nn.Conv2d(features, out_channels, 1) for _ in range(stacks))
        self.merge_feats = nn.ModuleList(nn.Conv2d(features, features, 1) for _ in range(stacks - 1))
        self.merge_preds = nn.ModuleList(nn.Conv2d(out_channels, features, 1) for _ in range(stacks - 1))
        self.divisor = 2 ** depth

    def forward(self, x) -> list[torch.Tensor]:
        x = self.pre(x)
        outs = []
        for k, hg in enumerate(self.hgs):
            f = self.feats[k](hg(x))
            pred = self.heads[k](f)
            outs.append(pred)
            if k + 1 < len(self.hgs):
                x = x + self.merge_feats[k](f) + self.merge_preds[k](pred)
        return outs


class DisplacementNet(nn.Module):
    """Image encoder + rendering encoder -> concatenation -> stacked hourglass -> per-pixel 2D field."""

    def __init__(self, config: NetConfig):
        super().__init__()
        if config.inputs not in CHANNEL_SETS:
            raise ValueError(f"unknown input set {config.inputs!r}; choose from {sorted(CHANNEL_SETS)}")
        self.config = config
        c = config
        self.image_encoder = Encoder(3, c.stem_width, c.block_width, c.blocks)
        self.render_encoder = Encoder(c.render_channels, c.stem_width, c.block_width, c.blocks)
        self.hourglass = StackedHourglass(2 * self.image_encoder.out_channels, c.features, c.stacks, c.depth)

    def forward(self, image: torch.Tensor, renderings: torch.Tensor) -> list[torch.Tensor]:
        """``image`` [B,3,H,W] (values in [0,1]), ``renderings`` [B,C,H,W] from :func:`render_inputs`.

        Returns one [B,2,H,W] output per stack (displacement / ``field_scale``, crop pixels, (dx, dy)).
        H and W must be multiples of ``2**depth``.
        """
        c = self.config
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"image must have shape [B,3,H,W], got {tuple(image.shape)}")
        if (renderings.ndim != 4 or renderings.shape[1] != c.render_channels
                or renderings.shape[-2:] != image.shape[-2:]):
            raise ValueError(f"renderings must have shape [B,{c.render_channels},H,W] ({c.inputs}: "
                             f"{'+'.join(CHANNEL_SETS[c.inputs])}) matching the image, got {tuple(renderings.shape)}")
        d = self.hourglass.divisor
        if image.shape[-1] % d or image.shape[-2] % d:
            raise ValueError(f"H and W must be multiples of {d} for depth {c.depth}, got {tuple(image.shape[-2:])}")
        x = torch.cat([self.image_encoder(image - 0.5), self.render_encoder(renderings)], 1)
        return self.hourglass(x)

    @torch.no_grad()
    def predict(self, image: torch.Tensor, views: dict) -> torch.Tensor:
        """The per-pixel displacement field [B,H,W,2] in the pixels of ``image`` (the crop the views were
        rendered for), 0 outside the rendered mask. ``image`` is [B,H,W,3] or [B,3,H,W] in [0, 1]."""
        if image.ndim == 4 and image.shape[-1] == 3 and image.shape[1] != 3:
            image = image.permute(0, 3, 1, 2)
        was_training = self.training
        self.eval()
        try:
            dev = next(self.parameters()).device
            out = self(image.to(dev).float(), render_inputs(views, self.config.inputs).to(dev))[-1]
        finally:
            self.train(was_training)
        field = out.permute(0, 2, 3, 1) * self.config.field_scale
        mask = views["mask"].to(field.device)
        return torch.where(mask[..., None], field, torch.zeros((), device=field.device))


def render_inputs(views: dict, inputs: str = "full") -> torch.Tensor:
    """Stack the renderings of :func:`dispkit.render.render` into the network's input [B,C,H,W].

    rgb and vertex colours are shifted to [-0.5, 0.5], normals kept in [-1, 1], depth made relative: the
    rendered depth minus its mean over the person (metres), so the network sees shape, not distance.
    Background pixels are 0 in every channel.
    """
    if inputs not in CHANNEL_SETS:
        raise ValueError(f"unknown input set {inputs!r}; choose from {sorted(CHANNEL_SETS)}")
    mask = views["mask"]
    m = mask[..., None].float()
    chans = []
    for key in CHANNEL_SETS[inputs]:
        if key not in views:
            raise ValueError(f"the {inputs!r} input set needs the {key!r} rendering (render with a texture for rgb)")
        x = views[key].float()
        if key == "depth":
            n = mask.sum((1, 2)).clamp(min=1)
            mean = (x * mask).sum((1, 2)) / n
            x = (x - mean[:, None, None])[..., None]
        elif key in ("rgb", "vertex_color"):
            x = x - 0.5
        chans.append(x * m)
    return torch.cat(chans, -1).permute(0, 3, 1, 2).contiguous()


def load_pretrained(name: str = "cpu", map_location="cpu") -> DisplacementNet:
    """A shipped network by name or a checkpoint path, in eval mode: :func:`dispkit.checkpoints.load_pretrained`."""
    from dispkit.checkpoints import load_pretrained as _load

    return _load(name, map_location)
