#!/usr/bin/env python3
"""Lays ELPV cells out off-centre on 2:1 canvases, in the Kaggle layout with labelled test photos.

Measures what `--resize crop|squish|pad` do when the subject is not in the middle of an oblong photo: each 300 px
cell is pasted at a random horizontal place on a 600 x 300 canvas of background grey (the median of the cell's
border, with noise), so a centre crop sees anywhere from half of the cell to all of it.

    scripts/offcentre_elpv.py ~/.cache/quadrat/data/elpv runs/offcentre --cells 1000
    quadrat train runs/offcentre --out runs/oc-crop --resize crop --augmentation dihedral

Writes OUT/train/, OUT/train_labels.csv (name,defective), OUT/test/ and OUT/test_labels.csv (a quarter of the
cells, stratified), which `train` scores as its held-out test. Needs Pillow and NumPy (the fastai peer's
environment has both: ~/.cache/quadrat-peers/legacy/bin/python).
"""
import argparse
import csv
import pathlib
import random

import numpy as np
from PIL import Image


def cells(source: pathlib.Path):
    """(image path, defective) for every cell: a defect probability of at least 0.5 counts as defective."""
    for line in (source / "labels.csv").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2:
            yield source / fields[0], float(fields[1]) >= 0.5


def offcentre(cell: Image.Image, rng: random.Random) -> Image.Image:
    pixels = np.asarray(cell.convert("L"), dtype=np.float32)
    side = pixels.shape[0]
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 8, size=(side, 2 * side))
    canvas = np.clip(np.median(border) + noise, 0, 255)
    x = rng.randrange(0, side + 1)
    canvas[:, x:x + side] = pixels
    return Image.fromarray(canvas.astype(np.uint8), mode="L")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=pathlib.Path, help="the ELPV folder (labels.csv and images/)")
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    every = list(cells(args.source))
    by_class = {label: [c for c in every if c[1] == label] for label in (False, True)}
    chosen = []
    for label, members in by_class.items():
        rng.shuffle(members)
        chosen += members[:round(args.cells * len(members) / len(every))]
    rng.shuffle(chosen)
    test_count = {label: round(len([c for c in chosen if c[1] == label]) / 4) for label in (False, True)}
    for part in ("train", "test"):
        (args.out / part).mkdir(parents=True, exist_ok=True)
    rows = {"train": [], "test": []}
    for path, defective in chosen:
        part = "test" if test_count[defective] > 0 else "train"
        if part == "test":
            test_count[defective] -= 1
        offcentre(Image.open(path), rng).save(args.out / part / path.name)
        rows[part].append((path.stem, int(defective)))
    for part, part_rows in rows.items():
        with open(args.out / f"{part}_labels.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["name", "defective"])
            writer.writerows(sorted(part_rows))
    print(f"{args.out}: {len(rows['train'])} training and {len(rows['test'])} test photos, 600 x 300, cells off-centre")


if __name__ == "__main__":
    main()
