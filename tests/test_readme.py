"""README.md's quickstart results table is the one generated from reports/quickstart/results.json
(regenerate it with ``python -m kanformer.report.readme reports/quickstart``), and its
``kanformer ...`` example command lines parse with the command line's parser."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from kanformer.bench.fidelity import fidelity_table
from kanformer.report import load_results
from kanformer.report.readme import HEADER, main, readme_table

ROOT = Path(__file__).resolve().parents[1]


def _readme_table() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(HEADER.split("{")[0])), None)
    assert start is not None, "README.md has no quickstart results table"
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return table


def test_readme_table_matches_results_json() -> None:
    expected = readme_table(load_results(ROOT / "reports" / "quickstart"))
    assert _readme_table() == expected, (
        "README.md's results table differs from reports/quickstart/results.json; paste the output of "
        "`python -m kanformer.report.readme reports/quickstart`"
    )


def test_readme_table_numbers(capsys: pytest.CaptureFixture) -> None:
    """Each row's metric, parameters and throughputs are results.json's, formatted as in the README."""
    results = load_results(ROOT / "reports" / "quickstart")
    rows = [line.strip("|").split("|") for line in _readme_table()[2:]]
    assert len(rows) == len(results["summary"])
    for cells, summary in zip(rows, results["summary"], strict=True):
        cells = [c.strip() for c in cells]
        assert cells[1].split(" (")[0] == summary["variant"]
        mean, _, std = cells[2].partition(" ± ")
        assert float(mean) == pytest.approx(summary["mean"], abs=5e-4 + 1e-9)
        if summary["std"] is not None:
            assert float(std) == pytest.approx(summary["std"], abs=5e-4 + 1e-9)
        if not summary["is_original"]:
            assert float(cells[3].split()[0]) == pytest.approx(summary["delta"], abs=5e-4 + 1e-9)
            assert ("beyond" in cells[3]) == bool(summary["beyond_noise"])
        assert float(cells[5].split()[0]) == pytest.approx(summary["train_samples_per_s"], abs=0.05)
        assert float(cells[6].split()[0]) == pytest.approx(summary["infer_samples_per_s"], abs=0.05)
    assert main([str(ROOT / "reports" / "quickstart")]) == 0
    assert capsys.readouterr().out.splitlines() == _readme_table()


def test_readme_helper_without_a_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([str(tmp_path)]) == 2
    assert "holds no results.json" in capsys.readouterr().err


def _readme_commands() -> list[str]:
    """The example ``kanformer ...`` lines of README.md's code blocks (not the usage lines)."""
    text = (ROOT / "README.md").read_text()
    blocks = [b.replace("\\\n", " ") for b in re.findall(r"```[a-z]*\n(.*?)```", text, re.S)]  # join continued lines
    lines = [line for block in blocks for line in block.splitlines()]
    lines += re.findall(r"^    (kanformer .*)$", text, re.M)
    commands = []
    for line in lines:
        found = re.search(r"(?:^\$?\s*|-m )kanformer (.*)$", line.strip())
        if found and "..." not in found.group(1) and " [" not in found.group(1):
            commands.append(found.group(1).split(" #")[0].strip())
    return commands


def test_readme_command_lines_parse() -> None:
    from kanformer.cli import _parse, build_parser

    commands = _readme_commands()
    assert any(c.startswith("bench ") for c in commands) and any("--ffn" in c for c in commands)
    for command in commands:
        argv = shlex.split(command)
        if argv == ["--help"]:
            continue
        try:
            args = _parse(build_parser(), argv)
        except SystemExit as err:
            pytest.fail(f"README.md: `kanformer {command}` does not parse (exit {err.code})")
        assert args.command == argv[0]


def test_readme_quotes_the_committed_distillation_fidelity_table() -> None:
    results = json.loads((ROOT / "reports" / "distill" / "fidelity.json").read_text())
    expected = fidelity_table(results["rows"])
    readme = (ROOT / "README.md").read_text().splitlines()
    assert expected[0] in readme, "README.md lacks the table of reports/distill/fidelity.md"
    start = readme.index(expected[0])
    assert readme[start : start + len(expected)] == expected, (
        "README.md's distillation table differs from reports/distill/fidelity.json; paste reports/distill/fidelity.md's"
    )
    assert "\n".join(expected) in (ROOT / "reports" / "distill" / "fidelity.md").read_text()
