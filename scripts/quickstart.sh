#!/usr/bin/env bash
# Set everything up on a fresh machine and run kanformer's main job: the quickstart comparison
# (configs/quickstart.yaml; offline, about 13 minutes on a 2-core CPU, plus the install). The report goes to
# runs/quickstart/report/ (untracked; the runs themselves are in runs/quickstart/), not over the
# committed reference reports/quickstart/; the script ends by printing its numbers beside the
# reference's, with the differences, and the elapsed time including the install.
# torch runs on 2 threads, as for the reference: CPU numbers depend on the thread count.
# Usage: scripts/quickstart.sh [extra arguments for `kanformer compare`, e.g. --threads 4]
# Maintainers regenerate the reference with: scripts/quickstart.sh --output-dir reports/quickstart
started=$SECONDS
trap 'echo "[kanformer] quickstart: $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s in all (install included)"' EXIT
source "$(dirname "$0")/_env.sh"
source scripts/_datasets.sh
export TOKENIZERS_PARALLELISM=false
kanformer compare configs/quickstart.yaml --output-dir runs/quickstart/report --reference reports/quickstart \
  --threads 2 "$@"
