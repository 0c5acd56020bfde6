#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite: the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "dev,api,bench,train,milvus,ocr,svg"
. .venv/bin/activate
ruff check .
python -m pytest -q "$@"
