#!/usr/bin/env python3
"""Builds a data set of photo bursts from ELPV cells, in the Kaggle layout, to measure burst/site leakage.

Each chosen source cell is photographed `--shots` times, like a camera trap firing a burst: every shot puts the
cell on a 340 x 340 RGB canvas whose background belongs to the cell's site (a tint, a blotchy texture and grain of
the site's own), shifted by up to 6 %, scaled by +-5 %, rotated by up to 3 degrees, with brightness and contrast
+-15 %, saved as JPEG quality 90. Sources are spread evenly over `--sites` sites; test sources come from sites of
their own that train never sees, and no source cell is in both train and test.

    ~/.cache/quadrat-peers/legacy/bin/python scripts/make_burst_set.py \\
        --source runs/demo/elpv --out runs/bursts [--sources 400] [--test-sources 150] [--shots 4] [--sites 40]

Reads SOURCE/train/*.png with SOURCE/train_labels.csv (name,defective). Writes OUT/train/sNNNN_K.jpg with
OUT/train_labels.csv (name,label,site) and OUT/test/*.jpg with OUT/test_labels.csv (name,label). Every JPEG has
EXIF: Model (the site's camera, e.g. TrailCam-07) and DateTimeOriginal; shots of a burst are 1-3 s apart and
consecutive bursts at a site 5-30 minutes apart. `--no-exif` leaves EXIF out. Needs Pillow and NumPy.
"""
import argparse
import csv
import datetime
import pathlib
import random

import numpy as np
from PIL import Image

CANVAS = 340
EXIF_IFD, MODEL, DATE_TIME_ORIGINAL = 0x8769, 0x0110, 0x9003


class Site:
    """One place with its own camera, background and clock."""

    def __init__(self, index: int, rng: random.Random):
        self.name = f"site{index:02d}"
        self.camera = f"TrailCam-{index:02d}"
        self.tint = np.array([rng.uniform(50, 200) for _ in range(3)], dtype=np.float32)
        # A blotchy texture: a coarse random grid per channel, blown up smoothly to the canvas.
        coarse = np.random.default_rng(rng.randrange(2**32)).uniform(0, 255, size=(6, 6, 3)).astype(np.uint8)
        smooth = np.asarray(Image.fromarray(coarse, "RGB").resize((CANVAS, CANVAS), Image.BICUBIC), np.float32)
        self.texture = (smooth - 127.5) * rng.uniform(0.1, 0.3)
        self.grain = rng.uniform(3, 10)
        self.clock = datetime.datetime(2026, 5, 1, 6) + datetime.timedelta(minutes=rng.randrange(0, 30 * 24 * 60))

    def background(self, rng: np.random.Generator) -> np.ndarray:
        return self.tint + self.texture + rng.normal(0, self.grain, size=(CANVAS, CANVAS, 3))


def shot(cell: Image.Image, site: Site, rng: random.Random) -> Image.Image:
    """One photograph of `cell` at `site`."""
    side = round(cell.width * rng.uniform(0.95, 1.05))
    angle = rng.uniform(-3, 3)
    grey = cell.convert("L").resize((side, side), Image.BICUBIC).rotate(angle, Image.BICUBIC, expand=True)
    mask = Image.new("L", (side, side), 255).rotate(angle, Image.BICUBIC, expand=True)
    reach = 0.06 * CANVAS
    x = (CANVAS - grey.width) // 2 + round(rng.uniform(-reach, reach))
    y = (CANVAS - grey.height) // 2 + round(rng.uniform(-reach, reach))
    canvas = Image.fromarray(np.clip(site.background(np.random.default_rng(rng.randrange(2**32))), 0, 255)
                             .astype(np.uint8), "RGB")
    canvas.paste(grey.convert("RGB"), (x, y), mask)
    pixels = np.asarray(canvas, np.float32)
    mean = pixels.mean()
    pixels = ((pixels - mean) * rng.uniform(0.85, 1.15) + mean) * rng.uniform(0.85, 1.15)
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8), "RGB")


def exif_for(site: Site, when: datetime.datetime) -> Image.Exif:
    exif = Image.Exif()
    exif[MODEL] = site.camera
    # Pillow 9.4 drops entries added through exif.get_ifd(0x8769)[...] unless the 0x8769 tag itself is set,
    # so the Exif sub-IFD is set as a dict.
    exif[EXIF_IFD] = {DATE_TIME_ORIGINAL: when.strftime("%Y:%m:%d %H:%M:%S")}
    return exif


def check_exif(path: pathlib.Path, site: Site, when: datetime.datetime):
    read = Image.open(path).getexif()
    stamp = read.get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL)
    if read.get(MODEL) != site.camera or stamp != when.strftime("%Y:%m:%d %H:%M:%S"):
        raise SystemExit(f"{path}: EXIF did not come back (Model {read.get(MODEL)!r}, DateTimeOriginal {stamp!r})")


def photograph(split: str, sources, sites, first_serial: int, args, rng: random.Random, out: pathlib.Path):
    """Writes the bursts of `sources` (name, label) spread over `sites`; returns the label rows."""
    folder = out / split
    folder.mkdir(parents=True)
    rows = []
    for i, (name, label) in enumerate(sources):
        site = sites[i % len(sites)]
        site.clock += datetime.timedelta(seconds=rng.randrange(5 * 60, 30 * 60 + 1))
        cell = Image.open(args.source / "train" / f"{name}.png")
        for k in range(args.shots):
            if k:
                site.clock += datetime.timedelta(seconds=rng.randint(1, 3))
            photo = f"s{first_serial + i:04d}_{k}"
            path = folder / f"{photo}.jpg"
            image = shot(cell, site, rng)
            if args.no_exif:
                image.save(path, quality=90)
            else:
                image.save(path, quality=90, exif=exif_for(site, site.clock))
                check_exif(path, site, site.clock)
            rows.append((photo, label, site.name))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=pathlib.Path, required=True, help="folder with train/ and train_labels.csv")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--sources", type=int, default=400, help="source cells for train")
    parser.add_argument("--test-sources", type=int, default=150, help="other source cells for test")
    parser.add_argument("--shots", type=int, default=4, help="photos per source")
    parser.add_argument("--sites", type=int, default=40, help="train sites; test gets proportionally many more")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-exif", action="store_true", help="write the JPEGs without EXIF")
    args = parser.parse_args()

    with open(args.source / "train_labels.csv", newline="") as f:
        cells = [(row["name"], int(row["defective"])) for row in csv.DictReader(f)]
    if args.sources + args.test_sources > len(cells):
        raise SystemExit(f"asked for {args.sources + args.test_sources} source cells; {args.source} has {len(cells)}")
    for split in ("train", "test"):
        if (args.out / split).exists():
            raise SystemExit(f"{args.out / split} already exists; remove it first")

    rng = random.Random(args.seed)
    rng.shuffle(cells)
    train, test = cells[:args.sources], cells[args.sources:args.sources + args.test_sources]
    test_sites = max(1, round(args.test_sources * args.sites / max(1, args.sources)))
    sites = [Site(i, rng) for i in range(args.sites + test_sites)]

    train_rows = photograph("train", train, sites[:args.sites], 0, args, rng, args.out)
    test_rows = photograph("test", test, sites[args.sites:], args.sources, args, rng, args.out)
    with open(args.out / "train_labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("name", "label", "site")] + train_rows)
    with open(args.out / "test_labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("name", "label")] + [row[:2] for row in test_rows])

    def summary(rows, sources, count):
        defective = sum(label for _, label in sources)
        return (f"{len(rows)} photos ({len(sources)} sources x {args.shots} shots, {defective} defective sources) "
                f"at {count} site{'s' if count != 1 else ''}")
    print(f"train: {summary(train_rows, train, args.sites)}")
    print(f"test:  {summary(test_rows, test, test_sites)} unseen in train")
    print(f"wrote {len(train_rows) + len(test_rows)} photos to {args.out}"
          + ("" if args.no_exif else " (EXIF Model and DateTimeOriginal read back from every one)"))


if __name__ == "__main__":
    main()
