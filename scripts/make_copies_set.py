#!/usr/bin/env python3
"""Makes a Kaggle-layout set in which every training photo has near-duplicates, and a test folder of other cells.

From `--sources` ELPV cells, OUT/train/ holds each cell and `--copies` edited copies of it (the edits of
plant_near_duplicates.py: crop of 2-10 % off one side, resize to 60-90 %, brightness +-5-20 %, JPEG quality 40-75),
all with the cell's label in OUT/train_labels.csv (name,label) and no column saying which photos belong together.
OUT/test/ holds `--test-sources` other cells, as they are, with OUT/test_labels.csv. A random split then validates
on copies of training photos (the overstatement); keeping each cluster of copies on one side of the split should not.

    PY=~/.cache/quadrat-peers/legacy/bin/python
    $PY scripts/make_copies_set.py --source runs/demo/elpv --out runs/copies [--sources 500] [--copies 2]
"""
import argparse
import csv
import pathlib
import random

from PIL import Image

from plant_near_duplicates import near_duplicate


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=pathlib.Path, required=True, help="folder with train/ and train_labels.csv")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--sources", type=int, default=500)
    parser.add_argument("--test-sources", type=int, default=400)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.source / "train_labels.csv") as f:
        rows = list(csv.reader(f))[1:]
    rng.shuffle(rows)
    chosen, test = rows[:args.sources], rows[args.sources:args.sources + args.test_sources]
    for part in ("train", "test"):
        (args.out / part).mkdir(parents=True, exist_ok=False)
    names = []
    for k, (name, label) in enumerate(chosen):
        cell = Image.open(next((args.source / "train").glob(name + ".*"))).convert("RGB")
        cell.save(args.out / "train" / f"c{k:04d}_0.png")
        names.append((f"c{k:04d}_0", label))
        for c in range(1, args.copies + 1):
            image, quality, _ = near_duplicate(cell, rng)
            stem = f"c{k:04d}_{c}"
            if quality:
                image.save(args.out / "train" / f"{stem}.jpg", quality=quality)
            else:
                image.save(args.out / "train" / f"{stem}.png")
            names.append((stem, label))
    with open(args.out / "train_labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("name", "label")] + names)
    for k, (name, label) in enumerate(test):
        Image.open(next((args.source / "train").glob(name + ".*"))).convert("RGB").save(args.out / "test" / f"t{k:04d}.png")
    with open(args.out / "test_labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("name", "label")] + [(f"t{k:04d}", label) for k, (_, label) in enumerate(test)])
    print(f"train: {len(names)} photos of {len(chosen)} cells; test: {len(test)} other cells")


if __name__ == "__main__":
    main()
