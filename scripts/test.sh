#!/usr/bin/env bash
# Set everything up on a fresh machine and run the test suite (quick tests; add -m slow for the rest).
# Usage: scripts/test.sh [extra pytest arguments]
source "$(dirname "$0")/_env.sh"
ruff check kanformer tests
ruff format --check kanformer tests
python -m pytest "$@"
