#!/usr/bin/env python3
"""How well `quadrat audit` finds ELPV's uncertain labels: the share of the top N ranked cells whose labels.csv
defect probability is 1/3 or 2/3 (annotators unsure), against that share in the whole set (the base rate).

    python3 scripts/audit_enrichment.py AUDIT.csv ELPV_LABELS.csv [N ...]      (default N: 50 100 200)

Standard library only.
"""
import csv
import sys


def main():
    audit, labels = sys.argv[1], sys.argv[2]
    tops = [int(n) for n in sys.argv[3:]] or [50, 100, 200]
    probability = {}
    with open(labels) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 2:
                name = fields[0].rsplit("/", 1)[-1].rsplit(".", 1)[0]
                probability[name] = float(fields[1])
    uncertain = {n for n, p in probability.items() if 0.2 < p < 0.8}
    with open(audit) as f:
        rows = list(csv.DictReader(f))
    base = sum(r["name"] in uncertain for r in rows) / len(rows)
    flagged = [r for r in rows if r["flagged"] == "yes"]
    print(f"cells {len(rows)}, uncertain {sum(r['name'] in uncertain for r in rows)} (base rate {base:.1%}), "
          f"flagged {len(flagged)}")
    for n in tops:
        top = rows[:n]
        share = sum(r["name"] in uncertain for r in top) / len(top)
        print(f"top {n}: {share:.1%} uncertain ({share / base:.1f}x the base rate)")
    if flagged:
        share = sum(r["name"] in uncertain for r in flagged) / len(flagged)
        print(f"all {len(flagged)} flagged: {share:.1%} uncertain ({share / base:.1f}x)")


if __name__ == "__main__":
    main()
