"""Write README.md from nbs/index.ipynb without Quarto (nbdev_readme needs it).

Markdown cells are copied as they are; code cells become fenced Python blocks followed by their text
outputs; cells whose first lines carry `#| hide` are left out.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _directives(src: str) -> set[str]:
    return {line[3:].strip() for line in src.splitlines() if line.startswith("#| ")}


def render(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            parts.append(src.strip())
            continue
        if "hide" in _directives(src):
            continue
        code = "\n".join(l for l in src.splitlines() if not l.startswith("#|")).strip()
        if code:
            parts.append(f"```python\n{code}\n```")
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain")
            if text:
                parts.append("```\n" + "".join(text).rstrip() + "\n```")
    return "\n\n".join(p for p in parts if p) + "\n"


def main() -> int:
    readme = render(json.loads((ROOT / "nbs" / "index.ipynb").read_text()))
    (ROOT / "README.md").write_text(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
