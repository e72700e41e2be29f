"""Write docs/API.md from the code itself: every public function and class of the library with
its real signature and the first paragraph of its docstring, module by module.

    python scripts/api_doc.py > docs/API.md

Run it after changing a public signature; the reference then cannot disagree with the code.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys

import analysis

SKIP = {"analysis.__main__", "analysis.cli"}  # the CLI is documented by `layerscope --help`
INTRO = """# LayerScope library reference

Generated from the code by `python scripts/api_doc.py > docs/API.md` (regenerate after changing a
public signature). The user guide is the README; the contributor guide is docs/CONVENTIONS.md.
Subpackages follow the data flow: `data` → `models` → `descriptors` → `probes` → `layouts` →
`inspect`; the top-level modules are shared helpers. Every function that draws random numbers
takes `random_state`; bad input raises `analysis.errors.LayerScopeError` (a `ValueError`).
"""


def first_paragraph(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].strip()


class _Raw:
    """An annotation written as text (postponed evaluation), shown without quotes."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def signature(obj) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(…)"
    raw = lambda a: _Raw(a) if isinstance(a, str) else a  # noqa: E731
    sig = sig.replace(parameters=[p.replace(annotation=raw(p.annotation)) for p in sig.parameters.values()],
                      return_annotation=raw(sig.return_annotation))
    return re.sub(r" at 0x[0-9a-f]+", "", str(sig))  # default objects' addresses change every run


def public_members(module):
    names = getattr(module, "__all__", None)
    for name, obj in vars(module).items():
        if name.startswith("_") or (names is not None and name not in names):
            continue
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if getattr(obj, "__module__", None) != module.__name__:
            continue  # imported from elsewhere: documented in its own module
        yield name, obj


def module_names() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(analysis.__path__, "analysis."):
        if info.name not in SKIP:
            names.append(info.name)
    return sorted(names, key=lambda n: (n.count(".") > 1, n))


def main() -> None:
    out = [INTRO]
    for name in module_names():
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # an optional backend (e.g. Ray, OpenVINO) that is not installed
            out.append(f"\n## `{name}`\n\n(not importable here: {type(exc).__name__}: {exc})\n")
            continue
        members = list(public_members(module))
        if not members:
            continue
        out.append(f"\n## `{name}`\n")
        if first_paragraph(module):
            out.append(first_paragraph(module) + "\n")
        for mname, obj in members:
            kind = "class " if inspect.isclass(obj) else ""
            out.append(f"\n- **`{kind}{mname}{signature(obj)}`**")
            doc = first_paragraph(obj)
            if doc and not (inspect.isclass(obj) and doc.startswith(mname + "(")):
                out.append("  " + doc.replace("\n", "\n  "))
    sys.stdout.write("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
