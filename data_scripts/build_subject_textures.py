#!/usr/bin/env python
"""Back-project and cache every subject's texture of a training --data spec ahead of a run (§4's pre-processing).

Each subject (a 3DPW actor, a Human3.6M npz) gets one texture, back-projected from ``--frames`` frames spread
over its sequence with the GT meshes (:func:`dispkit.data.real.subject_texture`), cached under
``$DISPKIT_CACHE/subject_textures/`` where ``python -m dispkit.train --data ...`` finds it; a training run
builds missing ones itself, this script only does it first (and shows them, with ``--preview``).

    python data_scripts/build_subject_textures.py --data 3dpw:~/dispkit_data/3DPW --body smpl
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dispkit.inputs import InputError, one_line, one_line_errors


def main(argv=None) -> int:
    ap = one_line_errors(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    ap.add_argument("--data", required=True, help="the training spec (synthetic sources are skipped)")
    ap.add_argument("--body", default="open", help="body model: open, smpl or a model file")
    ap.add_argument("--frames", type=int, default=8, help="frames back-projected per subject")
    ap.add_argument("--size", type=int, default=128, help="texture side in texels")
    ap.add_argument("--refresh", action="store_true", help="rebuild cached textures")
    ap.add_argument("--preview", default="", help="write a PNG grid of the textures here")
    args = ap.parse_args(argv)
    from tqdm.auto import tqdm

    from dispkit.body import default_body, load_body_model
    from dispkit.data.real import parse_data_spec, spec_sources, subject_texture

    body = default_body() if args.body == "open" else load_body_model(args.body)
    textures = []
    try:
        for kind, path, option, _ in parse_data_spec(args.data):
            if kind == "synthetic":
                continue
            for s in tqdm(spec_sources(kind, path, option, body), desc=f"{kind} textures"):
                textures.append(subject_texture(s, body, args.frames, args.size, refresh=args.refresh))
    except (FileNotFoundError, InputError) as e:
        ap.error(one_line(e))
    print(f"{len(textures)} subject textures cached")
    if args.preview and textures:
        import numpy as np
        from PIL import Image

        grid = np.concatenate([t.numpy() for t in textures[:16]], 1)
        Image.fromarray((grid * 255 + 0.5).astype(np.uint8)).save(args.preview)
        print("preview:", args.preview)
    return 0


if __name__ == "__main__":
    sys.exit(main())
