"""Installed dependencies are outside every range listed in security/known-vulnerable.txt."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

LIST = Path(__file__).resolve().parents[2] / "security" / "known-vulnerable.txt"


def _ranges() -> list[tuple[Requirement, str]]:
    out = []
    for line in LIST.read_text().splitlines():
        spec, _, why = line.partition("#")
        if spec.strip():
            out.append((Requirement(spec.strip()), why.strip()))
    return out


def test_the_list_is_not_empty_and_parses() -> None:
    assert _ranges(), "security/known-vulnerable.txt lists nothing"


def test_no_installed_package_is_in_a_known_vulnerable_range() -> None:
    bad = []
    for requirement, why in _ranges():
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            continue
        if requirement.specifier.contains(installed, prereleases=True):
            bad.append(f"{requirement.name} {installed} ({why})")
    assert not bad, f"known vulnerable versions installed: {bad}"
