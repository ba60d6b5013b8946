"""Importing kanformer changes nothing else and imports no Hugging Face code; the plugin registers
itself with transformers on first use; kanify leaves the caller's config alone; no import cycles.

Import checks run in fresh interpreters: the test process has long imported everything.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import kanformer

HF_MODULES = ("transformers", "datasets", "accelerate", "evaluate", "huggingface_hub")
PACKAGE = Path(kanformer.__file__).parent


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter; its stdout (the test fails with its stderr if it fails)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def hf_modules_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(sorted(m for m in {HF_MODULES!r} if m in sys.modules))"
    return eval(run_python(code))  # a printed list of names


@pytest.mark.parametrize(
    "statement",
    [
        "import kanformer",
        "import kanformer.layers",
        "from kanformer.layers import KANLinear",
        "from kanformer import KAN, KANLinear, KANFFNConfig, kanify",
        "import kanformer.plugin",
    ],
)
def test_import_pulls_in_no_hugging_face_code(statement: str) -> None:
    assert hf_modules_after(statement) == []


def test_import_leaves_transformers_untouched() -> None:
    """Neither ``import kanformer`` nor reading its public names patches transformers or fills its
    Auto mappings: that happens on first use (kanify, from_pretrained) or kanformer.register()."""
    out = run_python(
        """
        import transformers
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING

        load = transformers.PreTrainedModel.from_pretrained.__func__
        import kanformer
        from kanformer import KANFFNConfig, KANLinear, kanify

        print(transformers.PreTrainedModel.from_pretrained.__func__ is load, "kanformer_bert" in CONFIG_MAPPING)
        kanformer.register()
        print(transformers.PreTrainedModel.from_pretrained.__func__ is load, "kanformer_bert" in CONFIG_MAPPING)
        """
    )
    assert out.split() == ["True", "False", "False", "True"]


def test_help_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "kanformer", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "finetune" in out.stdout


def tiny_bert_config():
    from transformers import BertConfig

    return BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def test_kanify_leaves_the_callers_config_alone() -> None:
    """Two models built from one config object can both be kanified: kanify records its settings
    in (and swaps the class of) a copy, not in the config the caller still holds."""
    from transformers import BertForSequenceClassification

    from kanformer import KANFFNConfig, KANLinear, kanify

    cfg = tiny_bert_config()
    cls = type(cfg)
    m1 = BertForSequenceClassification(cfg)
    kanify(m1, KANFFNConfig())
    m2 = BertForSequenceClassification(cfg)
    kanify(m2, KANFFNConfig(form="grkan"))
    assert type(cfg) is cls and not getattr(cfg, "kanformer", None)
    assert m1.config is not m2.config
    assert m1.config.kanformer["settings"]["form"] == "kan" and m2.config.kanformer["settings"]["form"] == "grkan"
    # the submodules that shared the model's config share its copy now
    assert all(m.config is m1.config for m in m1.modules() if "config" in vars(m))
    assert sum(isinstance(m, KANLinear) for m in m2.modules()) == 4


def test_first_use_registers_the_loader(tmp_path: Path) -> None:
    """A checkpoint saved after kanify loads in a fresh process through kanformer.from_pretrained,
    and through the Auto class after kanformer.register(); the plain class then refuses it."""
    from transformers import BertForSequenceClassification

    from kanformer import KANFFNConfig, kanify

    torch.manual_seed(0)
    model = kanify(BertForSequenceClassification(tiny_bert_config()), KANFFNConfig()).eval()
    model.save_pretrained(tmp_path)
    ids = [[1, 5, 9, 2, 7]]
    with torch.no_grad():
        expected = model(input_ids=torch.tensor(ids)).logits.tolist()
    out = run_python(
        f"""
        import json
        import torch
        import transformers
        import kanformer

        ids = torch.tensor({ids})
        first = kanformer.from_pretrained({str(tmp_path)!r}).eval()  # registers on first use
        auto = transformers.AutoModelForSequenceClassification.from_pretrained({str(tmp_path)!r}).eval()
        try:
            transformers.BertForSequenceClassification.from_pretrained({str(tmp_path)!r})
            refused = False
        except ValueError:
            refused = True
        with torch.no_grad():
            logits = [m(input_ids=ids).logits.tolist() for m in (first, auto)]
        print(json.dumps({{"classes": [type(first).__name__, type(auto).__name__], "refused": refused,
                          "logits": logits}}))
        """
    )
    result = json.loads(out)
    assert result["classes"] == ["KANBertForSequenceClassification"] * 2
    assert result["refused"]
    for logits in result["logits"]:
        assert torch.allclose(torch.tensor(logits), torch.tensor(expected), atol=1e-5)


def test_auto_class_loads_after_register_in_a_fresh_process(tmp_path: Path) -> None:
    from transformers import BertForSequenceClassification

    from kanformer import KANFFNConfig, kanify

    kanify(BertForSequenceClassification(tiny_bert_config()), KANFFNConfig()).save_pretrained(tmp_path)
    out = run_python(
        f"""
        import transformers
        import kanformer

        kanformer.register()
        model = transformers.AutoModelForSequenceClassification.from_pretrained({str(tmp_path)!r})
        print(type(model).__name__)
        """
    )
    assert out.strip() == "KANBertForSequenceClassification"


def _imports(path: Path) -> set[str]:
    """The kanformer modules ``path`` imports, anywhere in it (function-level imports count too)."""
    package = path.relative_to(PACKAGE.parent).parts[:-1]  # where relative imports start (__init__ too)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if _module_path(sub) else module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("kanformer") and _module_path(m) and _module_path(m).name != "__init__.py"}


def _module_path(module: str) -> Path | None:
    path = PACKAGE.parent.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_no_import_cycles_between_modules() -> None:
    """Packages' __init__ files re-export, so edges into them are left out; module-to-module imports
    (lazy ones inside functions included) form no cycle."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        graph[name.removesuffix(".__init__")] = _imports(path)
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                cycle = trail[trail.index(dep) :] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*trail, dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
