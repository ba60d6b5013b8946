"""Run by tests/train/test_finetune.py under `accelerate launch --num_processes 2` (CPU)."""

import hashlib
import json
import sys
from pathlib import Path

import torch
from accelerate import PartialState

from kanformer.train import RunConfig, finetune

data_dir, out_dir = sys.argv[1], sys.argv[2]
cfg = RunConfig(
    model="tiny-bert",
    task="glue/sst2",
    data_dir=data_dir,
    output_dir=out_dir,
    max_steps=4,
    batch_size=4,
    eval_batch_size=4,
    ffn={"form": "kan"},
    save_model=False,
)
model = finetune(cfg).model
# Each rank reports a digest of its own parameters after training.
state = PartialState()
digest = hashlib.sha256()
for _, p in sorted(model.state_dict().items()):
    digest.update(p.detach().cpu().contiguous().numpy().tobytes())
Path(out_dir, f"rank{state.process_index}.json").write_text(
    json.dumps(
        {
            "rank": state.process_index,
            "world": state.num_processes,
            "params": digest.hexdigest(),
            "threads": torch.get_num_threads(),
        }
    )
)
