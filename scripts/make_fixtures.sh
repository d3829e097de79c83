#!/usr/bin/env bash
# Regenerates Tests/Fixtures with PyTorch. Needs Debian's python3-torch (and, for the
# backbone fixtures, PyPI's efficientnet-lite-pytorch; for weights.py, PyPI's safetensors); CI only reads the fixtures.
set -euo pipefail
cd "$(dirname "$0")/fixtures"
PY=/usr/bin/python3
"$PY" -c "import torch" 2>/dev/null || { echo "install python3-torch first (apt-get install python3-torch)" >&2; exit 1; }
for script in core.py backbones.py imagenet_classes.py images.py weights.py; do
    echo "fixtures: $script"
    "$PY" "$script"
done
# Multi-label metrics from scikit-learn (PyPI): PYTHON=/path/to/python-with-sklearn scripts/make_fixtures.sh
if "${PYTHON:-$PY}" -c "import sklearn" 2>/dev/null; then
    echo "fixtures: multilabel.py"
    "${PYTHON:-$PY}" multilabel.py
else
    echo "fixtures: multilabel.py skipped (needs scikit-learn: set PYTHON to a Python that has it)" >&2
fi
