"""Texture ablations (Table 3 of the paper) on held-out synthetic scenes with the shipped checkpoints.

For every scene of the held-out pare-like split, the person's texture is estimated the paper's way: back-projected
from 4 other frames of the same person (:func:`dispkit.texture.scene_texture`: GT meshes, the frames of
:func:`dispkit.data.synthetic.reference_frames`), as the shipped checkpoints were trained. Variants of the
network's input:

* ``full (estimated texture)``; ``+ noise N(0,10)``, ``+ noise N(0,30)`` (pixel-wise); ``+ brightness N(0,25)``,
  ``+ brightness N(0,50)`` (one offset per texture; 0-255 scale); ``wrong texture`` (the next scene's person);
* ``no texture`` (the model trained without RGB renderings) and ``texture only`` (RGB renderings only).

For each: EPE of the predicted field (full-image pixels, over rendered pixels) and SMPLify (GMM and VPoser) with
the predicted dense term; metrics in mm on the 24 SMPL joints.

    python benchmarks/texture_ablation.py [--n 20] [--priors gmm vposer] [--split heldout|ood] [--trio mixed|kit]
                                          [--full NAME]

The three networks of a trio (:data:`TRIOS`) were trained on one recipe, so the rows compare inputs, not training
data: ``kit`` (4000 steps on the kit's scenes) or ``mixed`` (default: those three fine-tuned 1000 more steps on
``--distribution mixed``, the last stage of the shipped ``cpu_full``'s recipe). The shipped ``cpu_full`` itself
was fine-tuned much longer and is not one of them (``--full NAME`` puts another network in the textured rows).
``--split ood`` runs the out-of-distribution pare-like split of ``bench_net.py`` / ``tables.py`` instead of the
held-out one.

writes benchmarks/results/texture_ablation.json and .md (``texture_ablation_ood.*`` for ``--split ood``).
Goal (issue 7): the paper's ordering -- full best, the wrong texture worst among textured inputs, the no-texture
model still better than the initial estimate.
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import add_fit_arguments, check_args, fit_config, parser, run, write_result

from dispkit import evaluation as ev
from dispkit import net as netmod
from dispkit import paper
from dispkit.body import load_body_model
from dispkit.data.training import load_split
from dispkit.tables import texture_markdown

RESULTS = ROOT / "benchmarks" / "results" / "texture_ablation.json"
SPLITS = {"heldout": ROOT / "benchmarks" / "splits" / "heldout_pare_100.npz",
          "ood": ROOT / "benchmarks" / "splits" / "ood_pare_100.npz"}
#: the three networks of one recipe each: textured rows, no texture, texture only
TRIOS = {"kit": {"cpu_full": "cpu_full_kit", "cpu_no_texture": "cpu_no_texture",
                 "cpu_texture_only": "cpu_texture_only"},
         "mixed": {"cpu_full": "cpu_full_mixed", "cpu_no_texture": "cpu_no_texture_mixed",
                   "cpu_texture_only": "cpu_texture_only_mixed"}}


def main(argv=None):
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--priors", nargs="+", default=["gmm", "vposer"])
    ap.add_argument("--split", choices=sorted(SPLITS), default="heldout")
    ap.add_argument("--trio", choices=sorted(TRIOS), default="mixed", help="the three networks (TRIOS)")
    ap.add_argument("--full", default="", help="the network of the textured rows (name or path; default: the trio's)")
    add_fit_arguments(ap)
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    trio = TRIOS[args.trio] | ({"cpu_full": args.full} if args.full else {})
    check_args(ap, args, priors=args.priors, nets=list(trio.values()))
    split = SPLITS[args.split]
    if not split.is_file():
        ap.error(f"the split {split} is missing: run `python benchmarks/bench_net.py` once to write it")
    args.out = args.out or str(RESULTS if args.split == "heldout" else RESULTS.with_name("texture_ablation_ood.json"))
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    body = load_body_model("open")
    nets = {k: netmod.load_pretrained(v) for k, v in trio.items()}
    cfg = fit_config(args)
    scenes = [s for k, s in zip(range(args.n), load_split(split, body=body))]
    args.n = len(scenes)  # the split may hold fewer
    result = ev.texture_ablation(scenes, body, nets, args.priors, cfg, args.batch)
    result.update({"split": str(split.relative_to(ROOT)), "split_kind": args.split, "paper": paper.TABLE3,
                   "networks": trio, "full_network": trio["cpu_full"], "trio": args.trio,
                   "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                               "torch": torch.__version__}})
    write_result(result, args.out)
    md = texture_markdown(result)
    Path(args.out).with_suffix(".md").write_text(md)
    print(md)
    return result


if __name__ == "__main__":
    run(main)
