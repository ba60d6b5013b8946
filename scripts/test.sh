#!/usr/bin/env bash
# Set everything up on a fresh machine, run ruff and the test suite.
# Usage: scripts/test.sh [--quick | --all] [extra pytest arguments]
#   (default)  every test but the `slow` ones: what CI (.ci/run) runs
#   --quick    also skips the `e2e` tests (full compare, multi-process and CLI training runs) and
#              the `compile` ones (inductor builds): unit tests plus a thin end-to-end slice,
#              a few minutes on 2 cores, for iterating
#   --all      everything, the `slow` tests included
# The tiers are pytest markers (pyproject.toml); a later `-m EXPR` replaces the tier's.
source "$(dirname "$0")/_env.sh"
tier=()
case "${1:-}" in
  --quick) tier=(-m "not slow and not e2e and not compile"); shift ;;
  --all) tier=(-m ""); shift ;;
esac
ruff check kanformer tests scripts
ruff format --check kanformer tests scripts
python -m pytest ${tier[@]+"${tier[@]}"} "$@"
