#!/usr/bin/env bash
# GPU check (issue 12), <= 8 minutes on one H100/H200:
#   1. set up (pip install -e '.[gpu,dev]'; offline machines keep their own torch/triton);
#   2. the CUDA tests (compiled Triton kernels against the torch path: B-spline layers, group-rational units);
#   3. kanformer bench-layer --device cuda --dtype bf16 at 8192x768 and 16384x1024
#      (torch path eager and fused, Triton path, efficient-kan formulation, nn.Linear, MLP FFN d-4d-d;
#      grkan's group-rational units alone: torch.compile's code against the Triton kernel);
#   4. kanformer bench of GPT-2 (124M config), BERT-base and ViT-B/16 (random weights), variants
#      original, kan-warm, kan-match-params, grkan-warm with kernel=auto (Triton where it applies);
#   5. reports/perf/gpu.md and gpu.json: GPU, driver, torch and triton versions, all tables.
# Usage: scripts/gpu_check.sh   (PYTHON=... to choose the interpreter; .whl/ holds wheels for offline set-up)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
REPORT=reports/perf
WORK=$(mktemp -d)
mkdir -p "$REPORT"
start=$SECONDS
step() { echo "== [$((SECONDS - start)) s] $*"; }

step "setup"
if [ -d .whl ]; then "$PY" -m pip install -q --no-index --find-links .whl --no-deps .whl/*.whl || true; fi
if ! "$PY" -m pip install -q -e '.[gpu,dev]' 2>"$WORK/pip.log"; then
    echo "pip install -e '.[gpu,dev]' failed (offline?): using the installed torch/triton and PYTHONPATH"
    tail -2 "$WORK/pip.log"
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
KF=("$PY" -m kanformer)
"$PY" -c "import torch, triton; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(), torch.__version__, triton.__version__)" || exit 1

step "CUDA tests"
KANFORMER_REQUIRE_CUDA=1 timeout 150 "$PY" -m pytest tests/layers/test_triton_cuda.py tests/layers/test_rational_triton.py \
    -q -rs -p no:cacheprovider \
    2>&1 | tee "$WORK/tests.log"
tests_rc=${PIPESTATUS[0]}

step "bench-layer"
timeout 150 "${KF[@]}" bench-layer --device cuda --dtype bf16 --shapes 8192x768 16384x1024 --warmup 3 --repeats 10 \
    --output-dir "$WORK" 2>&1 | tail -20

step "model configs (random weights)"
"$PY" - "$WORK" <<'PY'
import sys, transformers as t
root = sys.argv[1]
t.GPT2LMHeadModel(t.GPT2Config()).save_pretrained(f"{root}/gpt2-124m")
t.BertForSequenceClassification(t.BertConfig(num_labels=2)).save_pretrained(f"{root}/bert-base")
t.ViTForImageClassification(t.ViTConfig(num_labels=10)).save_pretrained(f"{root}/vit-b16")
PY

for model in gpt2-124m bert-base vit-b16; do
    step "bench $model"
    batch=(--batch-size 16 --seq-len 256)
    [ "$model" = vit-b16 ] && batch=(--batch-size 32)
    timeout 100 "${KF[@]}" bench "$WORK/$model" --ffn none kan-warm kan-match-params grkan-warm "${batch[@]}" \
        --device cuda --dtype bf16 --warmup 2 --repeats 5 --markdown --json "$WORK/bench-$model.json" kernel=auto \
        2>&1 | tail -12
done

step "report"
"$PY" - "$WORK" "$REPORT" "$tests_rc" "$((SECONDS - start))" <<'PY'
import json, subprocess, sys
from pathlib import Path
import torch, triton
from kanformer.bench.layer import results_table, LayerResult
from kanformer.bench.model import render_bench
work, out, tests_rc, seconds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
try:
    driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                            capture_output=True, text=True).stdout.strip()
except OSError:
    driver = None
env = {"gpu": torch.cuda.get_device_name(), "driver": driver, "cuda": torch.version.cuda,
       "torch": torch.__version__, "triton": triton.__version__}
data = {"environment": env, "cuda_tests_passed": tests_rc == 0, "seconds": seconds, "layer": None, "models": {}}
md = ["# GPU performance (scripts/gpu_check.sh)", "",
      f"GPU {env['gpu']}, driver {driver}, CUDA {env['cuda']}, torch {env['torch']}, triton {env['triton']}; bf16 autocast.",
      "", f"CUDA tests: {'passed' if tests_rc == 0 else f'FAILED (exit {tests_rc})'}.", ""]
layer = work / "layer.json"
if layer.exists():
    data["layer"] = json.loads(layer.read_text())
    rows = [LayerResult(**r) for r in data["layer"]["results"]]
    md += ["## One layer, forward+backward (bench-layer)", "", results_table(rows), ""]
else:
    md += ["## One layer: bench-layer did not finish", ""]
for model in ("gpt2-124m", "bert-base", "vit-b16"):
    f = work / f"bench-{model}.json"
    if f.exists():
        results = json.loads(f.read_text())["results"]
        data["models"][model] = results
        md += [f"## {model} (random weights), training and inference", "", render_bench(results, markdown=True), ""]
    else:
        md += [f"## {model}: the benchmark did not finish", ""]
md.append(f"Whole check: {seconds} s.")
out.mkdir(parents=True, exist_ok=True)
(out / "gpu.md").write_text("\n".join(md) + "\n")
(out / "gpu.json").write_text(json.dumps(data, indent=2) + "\n")
print(f"wrote {out / 'gpu.md'} and {out / 'gpu.json'}")
PY
step "done"
exit "$tests_rc"
