#!/usr/bin/env bash
# Regenerate requirements.lock (hash-pinned, what bootstrap.sh and CI install) from pyproject.toml.
# Run after changing dependencies in pyproject.toml, then run the tests and commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install -q uv
.venv/bin/python -m uv pip compile pyproject.toml --extra test requirements-build.in --generate-hashes \
  --python-version 3.11 -o requirements.lock
