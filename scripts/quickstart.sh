#!/usr/bin/env bash
# Set everything up on a fresh machine and run kanformer's main job on its embedded default.
# Usage: scripts/quickstart.sh [extra arguments for `kanformer demo`]
source "$(dirname "$0")/_env.sh"
kanformer demo "$@"
