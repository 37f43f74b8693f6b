"""The README is the user's first contact: its commands and every setting must be there."""

from __future__ import annotations

from pathlib import Path

from cumulo.core.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [f"CUMULO_{name.upper()}" for name in Settings.model_fields if f"CUMULO_{name.upper()}" not in README]
    assert not missing, f"settings missing from README.md: {missing}"


def test_the_two_commands_are_given() -> None:
    assert "make run" in README and "make test" in README
