#!/usr/bin/env python3
"""Plants known near-duplicates among ELPV cells, and scores a duplicate finder's clusters against them.

Make mode copies `--originals` distinct cells into OUT/train/ (Kaggle layout, OUT/train_labels.csv: name,label)
and, for `--planted` of them, adds one near-duplicate with the same label, made by one or more of: a crop of
2-10 % off one side (not resized back), a resize to 60-90 % (kept at that size), brightness +-5-20 %, and JPEG
recompression at quality 40-75 (such copies are saved as .jpg, the rest as .png). Every photo is named imgNNNNN
in shuffled order, so names say nothing about which photo is a copy of which. OUT/planted_pairs.csv
(original,copy,edits) is the truth; OUT/sources.csv (name,source,variant) says which cell each photo came from.

    PY=~/.cache/quadrat-peers/legacy/bin/python
    $PY scripts/plant_near_duplicates.py --source runs/demo/elpv --out runs/planted [--originals 1000] [--planted 200]
    $PY scripts/plant_near_duplicates.py --score CLUSTERS.csv --truth runs/planted/planted_pairs.csv

More originals than source cells (e.g. `--originals 10000 --planted 0`) is for timing only: the extra photos
reuse cells, each turned by a rotation/flip not used before for that cell and cut to a random 70-85 % square
(resized back), with brightness +-10 %. They are not planted copies, and scoring counts them as unrelated, though
a plain cell and its flipped crop can still look much alike.

Score mode reads CLUSTERS.csv (cluster,image,kind; images in no cluster are absent) and prints recall of the
planted pairs, how many reported pairs (every pair inside a cluster) are false, and false same-class pairs as a
share of all unrelated same-class pairs (labels from train_labels.csv beside the truth, or `--labels`).
"""
import argparse
import collections
import csv
import io
import itertools
import pathlib
import random
import shutil

from PIL import Image, ImageEnhance

DIHEDRAL = [None, Image.ROTATE_90, Image.ROTATE_180, Image.ROTATE_270, Image.FLIP_LEFT_RIGHT,
            Image.FLIP_TOP_BOTTOM, Image.TRANSPOSE, Image.TRANSVERSE]


def near_duplicate(image: Image.Image, rng: random.Random):
    """(edited image, JPEG quality or None, description of the edits)."""
    chosen = [edit for edit in ("crop", "resize", "brightness", "jpeg") if rng.random() < 0.5]
    chosen = chosen or [rng.choice(["crop", "resize", "brightness", "jpeg"])]
    edits, quality = [], None
    if "crop" in chosen:
        side, share = rng.choice(["left", "right", "top", "bottom"]), rng.uniform(0.02, 0.10)
        w, h = image.size
        cut = max(1, round(share * (w if side in ("left", "right") else h)))
        box = {"left": (cut, 0, w, h), "right": (0, 0, w - cut, h),
               "top": (0, cut, w, h), "bottom": (0, 0, w, h - cut)}[side]
        image = image.crop(box)
        edits.append(f"crop-{side}-{cut}px")
    if "resize" in chosen:
        scale = rng.uniform(0.6, 0.9)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        edits.append(f"resize-{scale:.0%}")
    if "brightness" in chosen:
        factor = 1 + rng.choice([-1, 1]) * rng.uniform(0.05, 0.20)
        image = ImageEnhance.Brightness(image).enhance(factor)
        edits.append(f"brightness-{factor:.0%}")
    if "jpeg" in chosen:
        quality = rng.randint(40, 75)
        edits.append(f"jpeg-q{quality}")
    return image, quality, "+".join(edits)


def unrelated_variant(image: Image.Image, turn: int, rng: random.Random) -> Image.Image:
    """A reuse of a cell for the timing set: a dihedral turn, a strong crop resized back, brightness +-10 %."""
    if DIHEDRAL[turn] is not None:
        image = image.transpose(DIHEDRAL[turn])
    side = round(min(image.size) * rng.uniform(0.70, 0.85))
    x, y = rng.randint(0, image.width - side), rng.randint(0, image.height - side)
    image = image.crop((x, y, x + side, y + side)).resize(image.size, Image.BILINEAR)
    return ImageEnhance.Brightness(image).enhance(rng.uniform(0.9, 1.1))


def make(args):
    with open(args.source / "train_labels.csv", newline="") as f:
        cells = [(row["name"], row["defective"]) for row in csv.DictReader(f)]
    if args.originals > len(cells) * len(DIHEDRAL):
        raise SystemExit(f"at most {len(cells) * len(DIHEDRAL)} originals from {len(cells)} cells")
    if not 0 <= args.planted <= args.originals:
        raise SystemExit("--planted must be between 0 and --originals")
    if (args.out / "train").exists():
        raise SystemExit(f"{args.out / 'train'} already exists; remove it first")
    (args.out / "train").mkdir(parents=True)

    rng = random.Random(args.seed)
    rng.shuffle(cells)
    # Originals: every cell once as it is, then (only past the number of cells) turned and cropped reuses.
    originals = [(cells[i % len(cells)], i // len(cells)) for i in range(args.originals)]
    ids = list(range(args.originals + args.planted))
    rng.shuffle(ids)
    names = [f"img{i:05d}" for i in ids]
    labels, sources, pairs = [], [], []
    for n, ((cell, label), turn) in enumerate(originals):
        path = args.source / "train" / f"{cell}.png"
        if turn == 0:
            shutil.copyfile(path, args.out / "train" / f"{names[n]}.png")
        else:
            unrelated_variant(Image.open(path), turn, rng).save(args.out / "train" / f"{names[n]}.png")
        labels.append((names[n], label))
        sources.append((names[n], cell, "original" if turn == 0 else f"unrelated-turn{turn}"))
    for k, n in enumerate(sorted(rng.sample(range(args.originals), args.planted))):
        (cell, label), turn = originals[n]
        original = Image.open(args.out / "train" / f"{names[n]}.png")
        copy, quality, edits = near_duplicate(original, rng)
        name = names[args.originals + k]
        if quality is None:
            copy.save(args.out / "train" / f"{name}.png")
        else:
            copy.save(args.out / "train" / f"{name}.jpg", quality=quality)
        labels.append((name, label))
        sources.append((name, cell, f"copy of {names[n]}: {edits}"))
        pairs.append((names[n], name, edits))

    for file, header, rows in (("train_labels.csv", ("name", "label"), labels),
                               ("sources.csv", ("name", "source", "variant"), sources),
                               ("planted_pairs.csv", ("original", "copy", "edits"), pairs)):
        with open(args.out / file, "w", newline="") as f:
            csv.writer(f).writerows([header] + sorted(rows))
    reused = max(0, args.originals - len(cells))
    print(f"wrote {len(labels)} photos to {args.out / 'train'}: {args.originals} originals"
          + (f" ({reused} of them turned/cropped reuses of cells, for timing only)" if reused else "")
          + f", {args.planted} planted near-duplicates")


def score(args):
    labels_path = args.labels or args.truth.parent / "train_labels.csv"
    with open(labels_path, newline="") as f:
        labels = {row["name"]: row["label"] for row in csv.DictReader(f)}
    with open(args.truth, newline="") as f:
        truth = {frozenset((row["original"], row["copy"])): row["edits"] for row in csv.DictReader(f)}
    clusters, kinds, seen = collections.defaultdict(list), collections.Counter(), {}
    with open(args.score, newline="") as f:
        for row in csv.DictReader(f):
            image = pathlib.PurePath(row["image"]).stem if "." in row["image"] else row["image"]
            if image not in labels:
                print(f"warning: {image} (cluster {row['cluster']}) is not in {labels_path}")
            if seen.setdefault(image, row["cluster"]) != row["cluster"]:
                print(f"warning: {image} is in clusters {seen[image]} and {row['cluster']}")
            if image not in clusters[row["cluster"]]:
                clusters[row["cluster"]].append(image)
                kinds[row["cluster"], row["kind"]] += 1

    reported = {frozenset(p) for members in clusters.values() for p in itertools.combinations(members, 2)}
    found = reported & truth.keys()
    false = reported - truth.keys()
    false_same = sum(1 for p in false if len({labels.get(i) for i in p}) == 1)
    per_class = collections.Counter(labels.values())
    unrelated_same = sum(c * (c - 1) // 2 for c in per_class.values()) - len(truth)

    def pct(part, whole):
        return f"{100 * part / whole:.2f} %" if whole else "n/a"
    kind_counts = collections.Counter(kind for _, kind in kinds)
    print(f"clusters: {len(clusters)} holding {len(seen)} images; clusters by kind: {dict(kind_counts)}")
    print(f"planted pairs found: {len(found)} / {len(truth)}, recall {pct(len(found), len(truth))}")
    for edit in ("crop", "resize", "brightness", "jpeg"):
        having = [p for p, edits in truth.items() if edit in edits]
        hit = sum(1 for p in having if p in found)
        print(f"  with {edit:<10} {hit:>5} / {len(having):<5} {pct(hit, len(having))}")
    print(f"reported pairs: {len(reported)}, false: {len(false)} ({pct(len(false), len(reported))} of reported)")
    print(f"false same-class pairs: {false_same} of {unrelated_same} unrelated same-class pairs, "
          f"{pct(false_same, unrelated_same)}; false cross-class pairs: {len(false) - false_same}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=pathlib.Path, help="folder with train/ and train_labels.csv (make mode)")
    parser.add_argument("--out", type=pathlib.Path, help="where to write the data set (make mode)")
    parser.add_argument("--originals", type=int, default=1000)
    parser.add_argument("--planted", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", type=pathlib.Path, metavar="CLUSTERS.csv", help="score these clusters")
    parser.add_argument("--truth", type=pathlib.Path, metavar="PLANTED_PAIRS.csv")
    parser.add_argument("--labels", type=pathlib.Path, help="default: train_labels.csv beside --truth")
    args = parser.parse_args()
    if args.score:
        if not args.truth:
            parser.error("--score needs --truth")
        score(args)
    elif args.source and args.out:
        make(args)
    else:
        parser.error("give --source and --out to make a set, or --score and --truth to score clusters")


if __name__ == "__main__":
    main()
