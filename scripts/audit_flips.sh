#!/usr/bin/env bash
# Recall of deliberately flipped labels: ELPV's cells whose annotators were sure (defect probability 0 or 1),
# with a share of their labels flipped on purpose (seeded), audited by `quadrat audit`; prints how many of the
# flipped cells are among the top 2 × flipped ranked.
#
#   scripts/audit_flips.sh [SHARE [AUDIT OPTIONS…]]   (default 0.05; build first: swift build -c release)
#   e.g. scripts/audit_flips.sh 0.05 --size 320 --arch efficientnet-lite2
set -euo pipefail
cd "$(dirname "$0")/.."
share=${1:-0.05}
shift $(($# > 0 ? 1 : 0))
elpv="${QUADRAT_HOME:-$HOME/.cache/quadrat}/data/elpv"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$elpv/images" "$work/train"
python3 - "$elpv/labels.csv" "$work" "$share" <<'PY'
import random, sys
labels, work, share = sys.argv[1], sys.argv[2], float(sys.argv[3])
sure = []
for line in open(labels):
    f = line.split()
    if len(f) >= 2 and float(f[1]) in (0.0, 1.0):
        sure.append((f[0].rsplit("/", 1)[-1].rsplit(".", 1)[0], int(float(f[1]))))
flip = set(random.Random(7).sample(range(len(sure)), round(share * len(sure))))
with open(f"{work}/train_labels.csv", "w") as out:
    out.write("name,defective\n")
    for i, (name, label) in enumerate(sure):
        out.write(f"{name},{1 - label if i in flip else label}\n")
with open(f"{work}/flipped.txt", "w") as out:
    out.write("\n".join(sure[i][0] for i in sorted(flip)) + "\n")
print(f"{len(sure)} cells with sure labels, {len(flip)} flipped")
PY
QUADRAT_QUIET=1 .build/release/quadrat audit "$work" --out "$work/audit" "$@" | grep -E "out-of-fold|flagged"
python3 - "$work/audit/audit.csv" "$work/flipped.txt" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
flipped = set(open(sys.argv[2]).read().split())
k = 2 * len(flipped)
found = sum(r["name"] in flipped for r in rows[:k])
flagged = [r for r in rows if r["flagged"] == "yes"]
caught = sum(r["name"] in flipped for r in flagged)
print(f"recall of the {len(flipped)} flips in the top {k}: {found / len(flipped):.1%}; "
      f"flagged {len(flagged)}, of which flips {caught} (precision {caught / max(1, len(flagged)):.1%}, "
      f"recall {caught / len(flipped):.1%})")
PY
