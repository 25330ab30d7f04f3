"""The layers of docs/architecture.md, checked against the code: nothing imports upward.

Every module under ``src/svdlens`` is parsed with :mod:`ast` (nothing is imported, so the
optional extras need not be installed). Each module belongs to one *unit*: its first
component under ``svdlens`` (``linalg``, ``_atomic``, ``cli`` …), or ``svdlens`` itself for
the package face ``svdlens/__init__.py``. A unit may import its own modules and the units in
layers strictly below its own; a sibling in the same layer is off limits too. Imports inside
functions count the same as those at the top of a module.

A second check: outside ``svdlens/cli`` no string names a command-line flag (``"--out"``,
``"--key"``). Library errors speak in the library's parameter names; the CLI, the only place
that knows the flags, translates. Docstrings are documentation, not messages, and are not
checked.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "svdlens"

# Bottom first. Keep in step with the diagram in docs/architecture.md.
LAYERS: list[tuple[str, ...]] = [
    ("exceptions",),  # SvdlensError and every error and warning class
    (
        "_validation",
        "_defaults",
        "_progress",
        "_atomic",
        "_threads",
        "_dask",
        "_html",
    ),  # one home for each shared concern
    ("linalg",),  # Operator, svd() and its methods
    ("_plotting",),  # pyplot-free figures, saved atomically
    ("faces", "nets"),  # eigenfaces; Jacobians, local bases, transport
    ("scenes", "diffusion"),  # explain scenes (faces for the default picture); DDPM/DDIM, h-space
    ("svdlens",),  # the package face, svdlens/__init__.py: re-exports the public names
    ("video",),  # Manim scenes (optional extra)
    ("report",),  # the demo report
    ("app",),  # the Gradio explorer
    ("cli",),  # the only place that knows flags
    ("__main__",),  # python -m svdlens
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}

# Imports allowed by the layers but narrower in the design: (unit, imported unit) -> the only
# modules that may make that import.
ONLY_FROM = {
    ("scenes", "faces"): {"svdlens.scenes._registry"},  # the default picture: the first built-in face
}

FLAG = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = ["svdlens", *path.relative_to(SRC).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _unit(module: str) -> str:
    """The layer unit of a dotted svdlens name: ``svdlens.linalg._svd`` -> ``linalg``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "svdlens"
    # ``from svdlens import svd``: a name from the package face, not a module of its own.
    if f"svdlens.{parts[1]}" not in MODULES:
        return "svdlens"
    return parts[1]


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, dotted svdlens name) for every svdlens import in the module, relative ones resolved."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            # ``from svdlens import faces`` imports the module svdlens.faces.
            found += [(node.lineno, f"{name}.{a.name}" if f"{name}.{a.name}" in MODULES else name) for a in node.names]
    return [(line, name) for line, name in found if name == "svdlens" or name.startswith("svdlens.")]


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in MODULES}
    missing = sorted(units - set(RANK))
    assert not missing, f"add these to LAYERS (and to docs/architecture.md): {missing}"


def test_no_module_imports_upward_or_sideways():
    violations = []
    for module, path in MODULES.items():
        unit = _unit(module)
        for line, name in _imports(module, path):
            target = _unit(name)
            if target == unit or target not in RANK or unit not in RANK:
                continue
            rel = path.relative_to(SRC.parents[1])
            if RANK[target] >= RANK[unit]:
                where = "above" if RANK[target] > RANK[unit] else "beside"
                violations.append(f"{rel}:{line}: {unit} imports {name} ({target} is {where} it)")
            elif (unit, target) in ONLY_FROM and module not in ONLY_FROM[unit, target]:
                violations.append(f"{rel}:{line}: {unit} imports {name} outside {sorted(ONLY_FROM[unit, target])}")
    assert not violations, "imports against the layers:\n" + "\n".join(violations)


def test_the_checker_sees_relative_and_facade_imports():
    assert "svdlens.exceptions" in {n for _, n in _imports("svdlens.linalg._svd", MODULES["svdlens.linalg._svd"])}
    assert _unit("svdlens.svd") == "svdlens" and _unit("svdlens.linalg._svd") == "linalg"
    assert {_unit(n) for _, n in _imports("svdlens", MODULES["svdlens"])} >= {"linalg", "faces", "nets", "diffusion"}


def test_no_cli_flags_outside_the_cli():
    violations = []
    for module, path in MODULES.items():
        if _unit(module) == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                for flag in FLAG.findall(node.value):
                    violations.append(f"{path.relative_to(SRC.parents[1])}:{node.lineno}: {flag!r} in {node.value!r}")
    assert not violations, "library strings that name CLI flags (the CLI should translate):\n" + "\n".join(violations)
