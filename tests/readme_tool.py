"""Fill README.md's ``<!-- section: NAME -->`` blocks from docs/NAME.md (``make readme``); idempotent."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- section: (?P<name>[a-z0-9-]+) -->\n(?:.*?<!-- end: (?P=name) -->\n)?", re.DOTALL)


def assemble(readme: str, docs: Path) -> str:
    """README text with every section marker followed by its docs file (missing files leave the marker alone)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        source = docs / f"{name}.md"
        if not source.exists():
            return f"<!-- section: {name} -->\n"
        return f"<!-- section: {name} -->\n{source.read_text(encoding='utf-8').strip()}\n<!-- end: {name} -->\n"

    return BLOCK.sub(fill, readme)


def main() -> int:
    path = ROOT / "README.md"
    before = path.read_text(encoding="utf-8")
    after = assemble(before, ROOT / "docs")
    path.write_text(after, encoding="utf-8")
    sys.stdout.write("README.md updated\n" if after != before else "README.md already current\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
