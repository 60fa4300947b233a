"""The lock files pin, with hashes, what pyproject.toml asks for (`make lock` renews them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """name -> version of every `name==version` line of a lock file."""
    found = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            found[canonical(match.group(1))] = match.group(2)
    return found


def wanted(section: list[str]) -> dict[str, str | None]:
    """name -> pinned version (or None when pyproject leaves it open)."""
    out: dict[str, str | None] = {}
    for spec in section:
        match = PIN.match(spec.replace(" ", ""))
        if match:
            out[canonical(match.group(1))] = match.group(2)
        else:
            out[canonical(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0])] = None
    return out


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


class TestLockFiles:
    """Both lock files agree with pyproject.toml, and every pin carries a hash."""

    @pytest.mark.parametrize(
        ("lock", "sections"),
        [
            ("requirements.lock", ["dependencies"]),
            ("requirements-dev.lock", ["dependencies", "dev"]),
        ],
    )
    def test_every_dependency_is_pinned_as_asked(self, lock: str, sections: list[str]) -> None:
        text = (ROOT / lock).read_text()
        locked = pins(text)
        asked: dict[str, str | None] = {}
        for section in sections:
            specs = (
                PROJECT[section]
                if section == "dependencies"
                else PROJECT["optional-dependencies"][section]
            )
            asked |= wanted(specs)
        missing = {name: version for name, version in asked.items() if name not in locked}
        assert missing == {}, f"run `make lock`: {missing}"
        differ = {
            name: (version, locked[name])
            for name, version in asked.items()
            if version is not None and locked[name] != version
        }
        assert differ == {}, f"run `make lock`: {differ}"

    @pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
    def test_every_pin_has_a_hash(self, lock: str) -> None:
        blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
        for block in blocks:
            if PIN.match(block):
                assert "--hash=sha256:" in block, block.splitlines()[0]

    def test_the_lock_names_no_local_wheel_directory(self) -> None:
        for lock in ("requirements.lock", "requirements-dev.lock"):
            assert "--find-links" not in (ROOT / lock).read_text()
