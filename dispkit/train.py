"""Training the displacement network (§3.1 "Optimization", Eq. 3) on synthetic scenes rendered on the fly.

    python -m dispkit.train --config cpu --inputs full --steps 6000 --out runs/cpu_full
    torchrun --nproc_per_node 2 -m dispkit.train --config cpu --out runs/ddp      # data parallel (gloo on CPU)

* Loss: Eq. 3, the L1 distance between predicted and GT per-pixel fields over the rendered pixels
  (``m_xy = 1``), applied to the output of every hourglass stack; the last stack is the prediction.
* Data: :class:`dispkit.data.training.DisplacementDataset` renders every sample on the fly, deterministic
  per index, so a resumed run sees exactly the samples it would have seen; ``--distribution broad`` (default)
  draws the scenes of :mod:`dispkit.data.broad` (continuous poses, five frame shapes, pitch and roll, wider
  regressor errors, tinted lights; never the OOD test split's), ``--backgrounds DIR`` your own background images.
  Rendering runs in ``--workers`` processes, overlapped with the step.
* Precision: ``--precision auto`` runs the forward pass under bf16 autocast with channels_last tensors where the
  hardware has bf16 units (AMX / AVX-512 BF16 CPUs, recent GPUs) and fp32 elsewhere (``benchmarks/bench_train.py``
  measures both side by side).
* AdamW with linear warm-up and cosine decay; checkpoints written atomically (temporary file, then
  ``os.replace``, :mod:`dispkit.checkpoints`) every ``--checkpoint-every`` steps and at the end, holding model,
  optimiser, scheduler, RNG states and step: ``--resume`` continues bit for bit on the same machine (samples are
  computed at a fixed thread setting, :func:`dispkit.data.training.one_thread`, so ``--workers`` does not
  change them; the step itself must run at the same ``--threads``). A CSV log (``log.csv``) records loss, EPE and
  throughput; ``config.json`` the run's settings.
* DDP when launched by ``torchrun`` (``WORLD_SIZE > 1``): gloo on CPU, NCCL on CUDA; rank r takes samples
  r, r + W, ...; only rank 0 writes.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from dispkit import inputs, raster
from dispkit import net as netmod
from dispkit.checkpoints import PRETRAINED, load_checkpoint, load_pretrained, save_checkpoint

__all__ = ["TrainConfig", "eq3_loss", "main", "train"]


@dataclass
class TrainConfig:
    """Settings of a training run (saved as ``config.json`` and inside every checkpoint)."""

    config: str = "cpu"            # network config (dispkit.net.CONFIGS)
    inputs: str = "full"           # input set (dispkit.net.CHANNEL_SETS)
    steps: int = 6000
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 200
    seed: int = 0
    workers: int = 1               # DataLoader worker processes (per rank)
    checkpoint_every: int = 250
    log_every: int = 25
    out: str = "runs/cpu_full"
    dataset: str = "synthetic"     # the training data: synthetic, or a --data spec (dispkit.data.real)
    body: str = "open"             # the body model the network is trained for: open, smpl, or a model file
    crop: int = 0                  # crop size; 0 = the network config's crop
    threads: int = 0               # torch threads of the training process (0 = torch's default)
    texture: str = "backprojected"  # texture behind the RGB rendering: backprojected (§4) or simulated
    texture_pool: int = 1000       # persons in the back-projected texture pool (built once, cached)
    init: str = ""                 # start from these weights (a checkpoint path or shipped name): fine-tuning
    distribution: str = "broad"    # training scenes: broad (dispkit.data.broad), kit (the ID generator only), mixed, or
    #                                wide (mixed geometry in the wide appearance of dispkit.data.wide)
    backgrounds: str = ""          # a folder of background images (your photos) instead of the procedural ones
    precision: str = "auto"        # auto (bf16 + channels_last where the CPU/GPU has bf16 units), fp32, bf16

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def eq3_loss(outputs: list[torch.Tensor], target: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list]:
    """Eq. 3: ``L = 1/(W H) Σ_xy m_xy ||f̂_xy − f_xy||_1``, summed over the stacks' outputs, mean over the batch.

    ``outputs``: list of [B,2,H,W] (every stack), ``target`` [B,2,H,W] in the same units, ``mask`` [B,H,W].
    Returns (loss, per-stack losses as floats).
    """
    m = mask[:, None].to(target.dtype)
    H, W = target.shape[-2:]
    per = [((o - target).abs() * m).sum((1, 2, 3)).mean() / (H * W) for o in outputs]
    return sum(per), [float(p.detach()) for p in per]


# --------------------------------------------------------------------------- training

def _dist():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


class _IndexSampler(torch.utils.data.Sampler):
    """Sample indices start, start + stride, ... (rank r of W: r, r + W, ...), one batch after another."""

    def __init__(self, start: int, stop: int, stride: int):
        self.start, self.stop, self.stride = start, stop, stride

    def __iter__(self):
        return iter(range(self.start, self.stop, self.stride))

    def __len__(self):
        return max(0, -(-(self.stop - self.start) // self.stride))


@contextlib.contextmanager
def single_threaded_workers():
    """Start DataLoader workers (spawned) inside this block: they inherit ``NUMBA_NUM_THREADS=1``, so numba's
    thread pool in each worker has one thread. Without it, two workers on two cores collapse from ~60 to
    ~8 samples/s (idle pool threads spin); ``numba.set_num_threads`` alone does not shrink the pool."""
    old = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)
        else:
            os.environ["NUMBA_NUM_THREADS"] = old


def single_threaded_worker_init(_):
    """``worker_init_fn`` of the training DataLoader: one torch and one renderer thread per worker."""
    torch.set_num_threads(1)
    raster.set_num_threads(1)


def _schedule(cfg: TrainConfig):
    def f(step):
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    return f


def _body(cfg: TrainConfig):
    from dispkit.body import default_body, load_body_model

    return default_body() if cfg.body == "open" else load_body_model(cfg.body)


def make_dataset(cfg: TrainConfig, net_config: netmod.NetConfig):
    """The run's training samples: the broad (or kit) synthetic scenes for ``--data synthetic``; otherwise the
    real sources of the spec, mixed by weight (:func:`dispkit.data.real.make_training_data`), ``synthetic``
    among them being the same synthetic scenes."""
    if cfg.dataset == "synthetic":
        return _synthetic_dataset(cfg, net_config)
    from dispkit.data.real import make_training_data

    return make_training_data(cfg.dataset, crop=cfg.crop or net_config.crop, seed=cfg.seed, body=_body(cfg),
                              synthetic=lambda: _synthetic_dataset(cfg, net_config), progress=_dist()[0] == 0)


def _synthetic_dataset(cfg: TrainConfig, net_config: netmod.NetConfig):
    from dispkit.data.training import DisplacementDataset, texture_pool

    pool = None
    pool_of = "wide" if cfg.distribution == "wide" else "kit"  # whose clothing the pool's persons wear
    if cfg.texture == "backprojected":
        rank, world = _dist()
        if rank == 0:  # one process builds the cached pool, the others wait and reuse it
            pool = texture_pool(cfg.texture_pool, seed=cfg.seed, distribution=pool_of)
        if world > 1:
            torch.distributed.barrier()
        pool = pool or texture_pool(cfg.texture_pool, seed=cfg.seed, progress=False, distribution=pool_of)
    return DisplacementDataset(crop=cfg.crop or net_config.crop, seed=cfg.seed, length=10 ** 9,
                               texture=cfg.texture, pool=pool, distribution=cfg.distribution,
                               background_dir=cfg.backgrounds or None,
                               body=None if cfg.body == "open" else _body(cfg))


def resolve_precision(precision: str, device) -> str:
    """``"bf16"`` or ``"fp32"`` for a run: ``"auto"`` picks bf16 autocast (with channels_last) on a CUDA device
    that supports it or a CPU with bf16 units (:func:`dispkit.machine.cpu_has_bf16`), fp32 otherwise (bf16 emulated
    without those units is slower than fp32)."""
    from dispkit.machine import cpu_has_bf16

    if precision not in ("auto", "fp32", "bf16"):
        raise inputs.UnknownNameError(f"unknown precision {precision!r}: choose auto, fp32 or bf16")
    if precision != "auto":
        return precision
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


def _autocast(device, precision: str):
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _init_weights(model, source) -> None:
    """Fine-tuning: load the weights of ``source`` (a shipped name or a checkpoint path) into ``model``; the layers
    must match (crop and ``field_scale`` may differ: the outputs are displacements / field_scale)."""
    src = load_pretrained(source)
    keys = ("inputs", "stem_width", "block_width", "blocks", "features", "stacks", "depth")
    diff = {k: (getattr(src.config, k), getattr(model.config, k)) for k in keys
            if getattr(src.config, k) != getattr(model.config, k)}
    if diff:
        raise inputs.FileContentError(f"--init {source}: its layers differ from {model.config.name!r}'s (init, this "
                                      f"run): {diff}")
    model.load_state_dict(src.state_dict())


def _net_config(cfg: TrainConfig) -> netmod.NetConfig:
    net_config = netmod.build(cfg.config, inputs=cfg.inputs).config
    if cfg.crop and cfg.crop != net_config.crop:  # the checkpoint records the crop it was trained on
        net_config = replace(net_config, crop=cfg.crop)
    return net_config


def _resume_state(cfg: TrainConfig, net_config: netmod.NetConfig, resume: bool) -> dict | None:
    """The checkpoint to continue from (``None`` for a new run); refuses to overwrite a run or to resume one whose
    data stream differs."""
    ckpt_path = Path(cfg.out) / "last.pt"
    if not resume and ckpt_path.is_file():
        raise FileExistsError(f"{ckpt_path} exists: pass --resume (resume=True) to continue that run, or choose "
                              "another --out")
    if not (resume and ckpt_path.is_file()):
        return None
    state = load_checkpoint(ckpt_path, expect=net_config)
    # a checkpoint from before --distribution existed was trained on the kit's generator
    saved = TrainConfig.from_dict({"distribution": "kit", **(state["train_config"] or {})})
    keys = ("config", "inputs", "batch_size", "seed", "texture", "texture_pool", "distribution",
            "backgrounds", "dataset", "body")  # what fixes the data stream
    if any(getattr(saved, k) != getattr(cfg, k) for k in keys):
        raise inputs.FileContentError(f"cannot resume {ckpt_path}: it was trained with "
                         + ", ".join(f"{k}={getattr(saved, k)}" for k in keys))
    return state


def _model_and_optimiser(cfg: TrainConfig, net_config: netmod.NetConfig, state: dict | None, device):
    """Seeded model, AdamW and the warm-up + cosine schedule, at the checkpoint's step when resuming."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    model = netmod.DisplacementNet(net_config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(cfg))
    step = 0
    if cfg.init and state is None:
        _init_weights(model, cfg.init)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step = int(state["step"])
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
    return model, opt, sched, step


def _loader(cfg: TrainConfig, dataset, step: int, rank: int, world: int):
    """Batches from ``step`` on; rank r of W takes samples r, r + W, ..."""
    B = cfg.batch_size
    sampler = _IndexSampler(step * B * world + rank, cfg.steps * B * world, world)
    # workers are spawned, not forked: the numba renderer uses OpenMP threads, which do not survive fork();
    # each worker renders with one thread (several processes spinning OpenMP threads on few cores collapse)
    return torch.utils.data.DataLoader(dataset, batch_size=B, sampler=sampler, num_workers=cfg.workers,
                                       multiprocessing_context="spawn" if cfg.workers > 0 else None,
                                       worker_init_fn=single_threaded_worker_init if cfg.workers > 0 else None,
                                       persistent_workers=False, drop_last=True)


class _Log:
    """``log.csv``: one row every ``log_every`` steps (means since the last row); rows after the checkpoint a run
    resumes from (a killed run's) are dropped first. Only rank 0 writes."""

    HEADER = ["step", "loss", "loss_last_stack", "epe_px", "lr", "samples_per_s", "elapsed_s"]

    def __init__(self, path: Path, step: int, resumed: bool, active: bool):
        self.file = None
        if not active:
            return
        new = not path.is_file() or not resumed
        if not new:
            rows = list(csv.reader(path.open()))
            keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
            with path.open("w", newline="") as f:
                csv.writer(f).writerows(keep)
        self.file = open(path, "w" if new else "a", newline="")
        self.writer = csv.writer(self.file)
        if new:
            self.writer.writerow(self.HEADER)

    def row(self, step, mean, lr, rate, elapsed):
        if self.file:
            self.writer.writerow([step, f"{mean[0]:.6f}", f"{mean[1]:.6f}", f"{mean[2]:.4f}", f"{lr:.3e}",
                                  f"{rate:.2f}", f"{elapsed:.1f}"])
            self.file.flush()

    def close(self):
        if self.file:
            self.file.close()


def _train_step(model, opt, sched, batch, net_config, device, precision: str = "fp32") -> tuple[float, float, float]:
    """One step of Eq. 3; returns (loss, last stack's loss, EPE in crop pixels). ``precision="bf16"``: the forward
    pass under bf16 autocast with channels_last inputs (the loss and the optimiser stay fp32)."""
    scale = net_config.field_scale
    fmt = torch.channels_last if precision == "bf16" else torch.contiguous_format
    image = batch["image"].to(device).contiguous(memory_format=fmt)
    rend = netmod.render_inputs(batch, net_config.inputs).to(device).contiguous(memory_format=fmt)
    target = batch["field"].permute(0, 3, 1, 2).to(device) / scale
    mask = batch["mask"].to(device)
    with _autocast(device, precision):
        outputs = model(image, rend)
    outputs = [o.float() for o in outputs]
    loss, per = eq3_loss(outputs, target, mask)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    with torch.no_grad():
        d = (outputs[-1] - target).norm(dim=1) * scale
        epe = float((d * mask).sum() / mask.sum().clamp(min=1))
    return loss.item(), per[-1], epe


def _replica_fingerprint(model, out: Path, rank: int) -> None:
    """A hash of this replica's parameters, to check that DDP kept them identical. (BatchNorm running statistics
    are rank 0's: DDP broadcasts them before every forward pass, and the checkpoint is rank 0's; after the last
    step each rank has updated them from its own batch.)"""
    module = model.module if hasattr(model, "module") else model
    digest = hashlib.sha256(b"".join(p.detach().cpu().numpy().tobytes() for p in module.parameters()))
    (out / f"replica_{rank}.sha256").write_text(digest.hexdigest())


def train(cfg: TrainConfig, resume: bool = False, dataset=None, progress: bool = True) -> dict:
    """Train (or resume) a network; returns a summary dict. See the module docstring."""
    from tqdm.auto import tqdm

    rank, world = _dist()
    out = Path(cfg.out)
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if torch.cuda.is_available() else "cpu"
    net_config = _net_config(cfg)
    state = _resume_state(cfg, net_config, resume)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
        raster.set_num_threads(cfg.threads)
    model, opt, sched, step = _model_and_optimiser(cfg, net_config, state, device)
    precision = resolve_precision(cfg.precision, device)
    if precision == "bf16":
        model = model.to(memory_format=torch.channels_last)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps({"train": asdict(cfg), "net": net_config.to_dict(),
                                                     "world_size": world, "precision": precision}, indent=1))
    if step >= cfg.steps:
        return {"step": step, "resumed": state is not None}
    from dispkit.checkpoints import body_record

    trained_for = body_record(_body(cfg))
    loader = _loader(cfg, make_dataset(cfg, net_config) if dataset is None else dataset, step, rank, world)
    log = _Log(out / "log.csv", step, state is not None, rank == 0)
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress or rank != 0,
               desc=f"train {cfg.config}/{cfg.inputs}")
    t0, seen, acc = time.perf_counter(), 0, []
    elapsed0 = float(state["extra"].get("elapsed_s", 0.0)) if state is not None else 0.0
    model.train()
    with single_threaded_workers():
        batches = iter(loader)  # spawns the workers
    try:
        for batch in batches:
            acc.append(_train_step(model, opt, sched, batch, net_config, device, precision))
            step += 1
            seen += cfg.batch_size * world
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.steps:
                rate, mean = seen / (time.perf_counter() - t0), np.mean(acc, 0)
                log.row(step, mean, sched.get_last_lr()[0], rate, elapsed0 + time.perf_counter() - t0)
                bar.set_postfix(loss=f"{mean[0]:.4f}", epe=f"{mean[2]:.2f}px", sps=f"{rate:.1f}")
                acc = []
            if rank == 0 and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
                save_checkpoint(out / "last.pt", model, opt, sched, step, asdict(cfg),
                                extra={"elapsed_s": elapsed0 + time.perf_counter() - t0, "body": trained_for})
            if step >= cfg.steps:
                break
    finally:
        bar.close()
        log.close()
    elapsed = time.perf_counter() - t0
    if world > 1:
        _replica_fingerprint(model, out, rank)
    return {"step": step, "elapsed_s": elapsed, "samples_per_s": seen / max(elapsed, 1e-9),
            "resumed": state is not None, "world_size": world, "rank": rank, "precision": precision}


def check_config(cfg: TrainConfig, resume: bool = False) -> str:
    """What is wrong with a command line's settings, as one sentence saying what to do ("" when nothing is)."""
    ints = {"steps": 1, "batch_size": 1, "workers": 0, "checkpoint_every": 1, "log_every": 1, "warmup": 0,
            "crop": 0, "threads": 0, "texture_pool": 1}
    for name, lo in ints.items():
        if getattr(cfg, name) < lo:
            return f"--{name.replace('_', '-')} must be >= {lo}, got {getattr(cfg, name)}"
    for name in ("lr", "weight_decay"):
        if not math.isfinite(getattr(cfg, name)) or getattr(cfg, name) < 0:
            return f"--{name.replace('_', '-')} must be a finite number >= 0, got {getattr(cfg, name)}"
    if cfg.crop % 8:
        return f"--crop must be a multiple of 8 (0: the config's own), got {cfg.crop}"
    if cfg.dataset != "synthetic":
        from dispkit.data.real import parse_data_spec

        try:
            for kind, path, _, _ in parse_data_spec(cfg.dataset):
                if kind != "synthetic" and not Path(path).exists():
                    return f"--data {kind}:{path}: no such file or folder"
        except (inputs.InputError, ValueError) as e:
            return inputs.one_line(e)
    choices = {"config": sorted(netmod.CONFIGS), "inputs": sorted(netmod.CHANNEL_SETS),
               "texture": ["backprojected", "simulated"], "distribution": ["broad", "kit", "mixed", "wide"],
               "precision": ["auto", "bf16", "fp32"]}
    for name, valid in choices.items():
        if getattr(cfg, name) not in valid:
            return f"--{name} must be one of {', '.join(valid)}, got {getattr(cfg, name)!r}"
    if cfg.backgrounds and not Path(cfg.backgrounds).expanduser().is_dir():
        return f"--backgrounds {cfg.backgrounds}: no such folder (give a folder of .png / .jpg images)"
    if cfg.init and cfg.init not in PRETRAINED and not Path(cfg.init).expanduser().is_file():
        return (f"--init {cfg.init}: no such checkpoint file; give a shipped name ({', '.join(PRETRAINED)}) or the "
                "path of a run's last.pt")
    out = Path(cfg.out).expanduser()
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file: give a folder for the run"
    # another rank of the same torchrun may already have written into OUT: only rank 0 looks
    if not resume and int(os.environ.get("RANK", "0")) == 0 and out.is_dir() and any(out.iterdir()):
        return f"--out {out} exists and is not empty: pass --resume to continue that run, or choose another --out"
    return ""


def main(argv=None):
    ap = inputs.one_line_errors(argparse.ArgumentParser(
        prog="python -m dispkit.train",
        description="Train the displacement network (Eq. 3) on synthetic scenes or real datasets (--data)."))
    for f in fields(TrainConfig):
        ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    ap.add_argument("--data", dest="dataset", default=argparse.SUPPRESS,
                    help="training data, e.g. 3dpw:~/data/3DPW,h36m:~/data/h36m/h36m_train.npz@0.5,synthetic@0.5 "
                         "(dispkit.data.real; same as --dataset)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.pt if it exists")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    problem = check_config(cfg, args.resume)
    if problem:
        ap.error(problem)
    try:
        summary = train(cfg, resume=args.resume, progress=not args.no_progress)
    except (FileExistsError, FileNotFoundError, inputs.InputError) as e:  # a bad argument found on the way: one line
        raise SystemExit(f"{ap.prog}: error: {inputs.one_line(e)}") from None
    if summary.get("rank", 0) == 0:
        print(json.dumps(summary))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return summary


if __name__ == "__main__":
    main()
