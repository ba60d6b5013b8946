#!/usr/bin/env bash
# Set everything up on a fresh machine and run kanformer's main job: the quickstart comparison
# (configs/quickstart.yaml; offline, about 15 minutes on a 2-core CPU), written to reports/quickstart/.
# Usage: scripts/quickstart.sh [extra arguments for `kanformer compare`, e.g. --output-dir DIR]
source "$(dirname "$0")/_env.sh"
source scripts/_datasets.sh
export TOKENIZERS_PARALLELISM=false
kanformer compare configs/quickstart.yaml "$@"
