"""Markdown sections every report shares: the "Generated ... by ... on ..." line and the closing
"## Reproduce" and "## Environment" sections."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from ..provenance import describe


def generated_line(results: Mapping[str, Any], default_command: str) -> str:
    """'Generated <when> by `<command>` in <N> min on <hardware, versions>' (no final full stop), from
    the created / command / wall_seconds / environment entries every results.json holds."""
    env = results.get("environment") or {}
    seconds = results.get("wall_seconds")
    return (
        f"Generated {results.get('created', '')} by `{results.get('command') or default_command}`"
        + (f" in {seconds / 60:.1f} min" if seconds else "")
        + f" on {describe(env) if env else 'an unrecorded machine'}"
    )


def reproduce_section(command: str, config: Mapping[str, Any], environment: Mapping[str, Any]) -> list[str]:
    """The closing "## Reproduce" (command and config as YAML) and "## Environment" (as JSON) sections."""
    return [
        "## Reproduce",
        "",
        "```sh",
        command,
        "```",
        "",
        "```yaml",
        yaml.safe_dump(dict(config), sort_keys=False).rstrip(),
        "```",
        "",
        "## Environment",
        "",
        "```json",
        json.dumps(dict(environment), indent=2),
        "```",
        "",
    ]


__all__ = ["generated_line", "reproduce_section"]
