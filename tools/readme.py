"""Write README.md from nbs/index.ipynb without Quarto (nbdev_readme needs it).

Markdown cells are copied with their result placeholders filled in from `bench/results/*.json`, so a figure in the
README cannot drift from the run that measured it:
- `{{NAME:PATH}}` or `{{NAME:PATH:FORMAT}}`: one value of `bench/results/NAME.json`, found by the dotted PATH
  (list items by index, dict keys by name) and written with the Python FORMAT spec (default: as is);
- `{{table:NAME}}`: a whole table, drawn by the renderer of that name below.
Code cells become fenced Python blocks followed by their text outputs; cells whose first lines carry `#| hide` are
left out. A placeholder that names a missing file, key or renderer stops the script with that name.
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PLACEHOLDER = re.compile(r"\{\{([\w-]+):([^:}]+)(?::([^}]+))?\}\}")


def results(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.exists(): sys.exit(f"README placeholder names bench/results/{name}.json, which does not exist")
    return json.loads(path.read_text())


def lookup(name: str, dotted: str):
    value = results(name)
    for part in dotted.split("."):
        try: value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, ValueError):
            sys.exit(f"README placeholder {{{{{name}:{dotted}}}}}: bench/results/{name}.json has no {part!r} there")
    return value


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def ms(x) -> str: return "–" if x is None else f"{x:.1f}"
def ratio(x) -> str: return "–" if x is None else f"{x:.2f}×"


def demo_table() -> str:
    d = results("distill")
    return markdown_table(
        ["model", "accuracy %", "params (M)", "size (MB)", "b1 latency (ms)", "b1 speed-up", "b32 latency (ms)", "b32 speed-up"],
        [[m["model"], f"{100 * m['accuracy']:.1f}", f"{m['parameters'] / 1e6:.1f}", f"{m['size_mb']:.1f}", ms(m["latency_b1_ms"]),
          ratio(m["speedup_b1"]), ms(m["latency_b32_ms"]), ratio(m["speedup_b32"])] for m in d["models"]])


def prune_table() -> str:
    d = results("prune")
    return markdown_table(
        ["model", "pruned", "recovery", "accuracy %", "drop (points)", "params (M)", "FLOPs ratio", "b1 speed-up", "b32 speed-up"],
        [[r["model"], r["setting"], r["recovery"], f"{100 * r['accuracy']:.1f}", f"{r['accuracy_drop_points']:.1f}",
          f"{r['parameters'] / 1e6:.1f}", ratio(r["flops_ratio"]), ratio(r.get("speedup_b1")), ratio(r.get("speedup_b32"))]
         for r in d["rows"]])


def quant_table() -> str:
    d = results("quant")
    rows = []
    for model, res in d["results"].items():
        for r in res["table"]:
            rows.append([model, r["runtime"], f"{100 * r['accuracy']:.1f}", f"{100 * r['top1_agreement']:.1f}",
                         f"{r['size_mb']:.1f}", ms(r["latency_b1_ms"]), ratio(r["speedup_b1"]), ms(r["latency_b32_ms"]),
                         ratio(r["speedup_b32"])])
    return markdown_table(["model", "runtime", "accuracy %", "agreement %", "size (MB)", "b1 (ms)", "b1 speed-up",
                           "b32 (ms)", "b32 speed-up"], rows)


def mgad_table() -> str:
    d = results("mgad")
    return markdown_table(["method", "test accuracy % (mean ± sd)", "min", "max"],
                          [[k, f"{100 * v['mean']:.1f} ± {100 * v['std']:.1f}", f"{100 * v['min']:.1f}", f"{100 * v['max']:.1f}"]
                           for k, v in d["summary"].items()])


def panels_table() -> str:
    d = results("panels")
    return markdown_table(["panel", "median redraw (ms)", "max (ms)"],
                          [[k, ms(v["median_ms"]), ms(v["max_ms"])] for k, v in d.items() if isinstance(v, dict) and "median_ms" in v])


TABLES = {"demo": demo_table, "prune": prune_table, "quant": quant_table, "mgad": mgad_table, "panels": panels_table}


def fill(text: str) -> str:
    def one(m):
        name, path, fmt = m.groups()
        if name == "table":
            if path not in TABLES: sys.exit(f"README placeholder {{{{table:{path}}}}}: no such table ({', '.join(TABLES)})")
            return TABLES[path]()
        value = lookup(name, path)
        return format(value, fmt) if fmt else str(value)
    return PLACEHOLDER.sub(one, text)


def _directives(src: str) -> set[str]:
    return {line[3:].strip() for line in src.splitlines() if line.startswith("#| ")}


def render(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            parts.append(fill(src.strip()))
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
