#!/usr/bin/env python3
"""Photos a solar-cell model has never seen, in the ELPV cells' size and format (300 x 300 grayscale PNG).

For measuring the "none of these" score: crops of the natural photos that Debian's packages carry (SciPy's raccoon
and staircase, Matplotlib's Grace Hopper, scikit-learn's china and flower when present), Matplotlib's test plots
(charts, 3-D surfaces, text), and generated textures (noise at several scales, stripes, checkerboards, blobs).
Seeded: the same set every time.

    python scripts/make_unknown_set.py OUT [--count 300] [--seed 7]
"""
import argparse
import bz2
import glob
import os
import pickle
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 300


def natural_photos():
    """Grayscale arrays of the natural photos found on this machine."""
    photos = []
    misc = "/usr/lib/python3/dist-packages/scipy/misc"
    face = os.path.join(misc, "face.dat")
    if os.path.exists(face):
        raw = bz2.decompress(open(face, "rb").read())
        photos.append(np.frombuffer(raw, dtype=np.uint8).reshape(768, 1024, 3).mean(axis=2))
    ascent = os.path.join(misc, "ascent.dat")
    if os.path.exists(ascent):
        with open(ascent, "rb") as f:
            photos.append(np.asarray(pickle.load(f), dtype=np.float64))
    for path in [
        "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "/usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg",
        "/usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg",
    ]:
        if os.path.exists(path):
            photos.append(np.asarray(Image.open(path).convert("L"), dtype=np.float64))
    return photos


def plots():
    """Matplotlib's baseline test images (charts, surfaces, text) with some size to them."""
    paths = sorted(glob.glob("/usr/lib/python3/dist-packages/mpl_toolkits/tests/baseline_images/**/*.png", recursive=True))
    paths += sorted(glob.glob("/usr/lib/python3/dist-packages/matplotlib/tests/baseline_images/**/*.png", recursive=True))
    return [p for p in paths if os.path.getsize(p) > 10_000]


def crop(photo, rng):
    """A random square crop of a fifth to all of the shorter side, resized to SIZE."""
    h, w = photo.shape
    side = int(min(h, w) * rng.uniform(0.2, 1.0))
    top, left = rng.randrange(0, h - side + 1), rng.randrange(0, w - side + 1)
    part = Image.fromarray(photo[top : top + side, left : left + side].astype(np.uint8))
    if rng.random() < 0.5:
        part = part.transpose(Image.FLIP_LEFT_RIGHT)
    return part.resize((SIZE, SIZE), Image.BILINEAR)


def texture(rng, np_rng):
    """Noise at a random scale, stripes, a checkerboard or soft blobs."""
    kind = rng.choice(["noise", "stripes", "checks", "blobs"])
    if kind == "noise":
        scale = rng.choice([1, 4, 16, 64])
        small = np_rng.uniform(0, 255, (max(1, SIZE // scale),) * 2)
        return Image.fromarray(small.astype(np.uint8)).resize((SIZE, SIZE), Image.BICUBIC)
    if kind == "stripes":
        period, angle = rng.uniform(6, 60), rng.uniform(0, np.pi)
        y, x = np.mgrid[0:SIZE, 0:SIZE]
        wave = np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period)
        return Image.fromarray(((wave + 1) * 127.5).astype(np.uint8))
    if kind == "checks":
        cell = rng.randrange(8, 80)
        y, x = np.mgrid[0:SIZE, 0:SIZE]
        lo, hi = sorted(rng.sample(range(256), 2))
        return Image.fromarray(np.where((x // cell + y // cell) % 2 == 0, lo, hi).astype(np.uint8))
    image = Image.new("L", (SIZE, SIZE), rng.randrange(0, 256))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(3, 15)):
        x, y, r = rng.randrange(SIZE), rng.randrange(SIZE), rng.randrange(10, 90)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=rng.randrange(256))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 6)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng, np_rng = random.Random(args.seed), np.random.default_rng(args.seed)
    photos, charts = natural_photos(), plots()
    os.makedirs(args.out, exist_ok=True)
    kinds = {"photo": 0, "plot": 0, "texture": 0}
    for i in range(args.count):
        kind = ["photo", "plot", "texture"][i % 3]
        if kind == "photo" and photos:
            image = crop(rng.choice(photos), rng)
        elif kind == "plot" and charts:
            chart = np.asarray(Image.open(rng.choice(charts)).convert("L"), dtype=np.float64)
            image = crop(chart, rng)
        else:
            kind, image = "texture", texture(rng, np_rng)
        kinds[kind] += 1
        image.save(os.path.join(args.out, f"unknown_{i:04d}_{kind}.png"))
    print(f"wrote {args.count} images to {args.out}: " + ", ".join(f"{n} {k}s" for k, n in kinds.items()))


if __name__ == "__main__":
    main()
