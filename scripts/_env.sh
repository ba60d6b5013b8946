# Shared by quickstart.sh and test.sh: create .venv and install kanformer into it.
# Sourced, not run. Honours:
#   KANFORMER_VENV   where the virtual environment lives (default: .venv in the repo)
#   KANFORMER_TORCH  the torch requirement to install first (default: torch==2.13.0,
#                    the CPU build on our machines; e.g. "torch" for your platform's default)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${KANFORMER_VENV:-$repo/.venv}"
torch_req="${KANFORMER_TORCH:-torch==2.13.0}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "[kanformer] creating virtual environment in $venv"
  "$python" -m venv "$venv"
fi
stamp="$venv/.kanformer-installed"
want="$(cat "$repo/pyproject.toml" | sha256sum | cut -d' ' -f1) $torch_req"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[kanformer] installing $torch_req, then kanformer[dev] (editable)"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # torch first, so the project's "torch>=2.4" is already satisfied and pip pulls no other build.
  "$venv/bin/python" -m pip install --quiet "$torch_req"
  "$venv/bin/python" -m pip install --quiet -e "$repo[dev]"
  echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
cd "$repo"
