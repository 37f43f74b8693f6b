"""Assemble README.md from docs/readme-head.md, the service pages in docs/, docs/readme-tail.md and
the settings table generated from `cumulo.core.config.Settings`.

    .venv/bin/python scripts/readme.py
"""

from __future__ import annotations

import contextlib
import io
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ORDER = ["identity", "compute", "network", "volumes", "storage", "messaging", "secrets", "functions"]


def demote(text: str) -> str:
    """Service pages start at '#': inside the README they become sections ('##')."""
    out = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if line.startswith("#") and not fenced else line)
    return "\n".join(out)


def settings_table() -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        runpy.run_path(str(ROOT / "scripts" / "settings-table.py"), run_name="__main__")
    return buffer.getvalue().rstrip()


def main() -> None:
    pages = [p.stem for p in DOCS.glob("*.md") if not p.stem.startswith("readme-")]
    ordered = [n for n in ORDER if n in pages] + sorted(set(pages) - set(ORDER))
    parts = [(DOCS / "readme-head.md").read_text().rstrip()]
    parts += [demote((DOCS / f"{name}.md").read_text().rstrip()) for name in ordered]
    parts.append((DOCS / "readme-tail.md").read_text().rstrip().replace("{settings}", settings_table()))
    (ROOT / "README.md").write_text("\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
