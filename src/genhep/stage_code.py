"""Which library source files a workflow stage runs, so that editing one reruns exactly
the stages that import it.

Snakemake reruns a job when one of its input files changes. A stage's script is an
input; this module adds the ``genhep`` modules the script imports, directly or through
other modules (imports inside functions included), found by reading the sources with
``ast``: nothing is imported, so planning a workflow stays fast and needs no torch.

One refinement keeps a family's edit to that family: the model registry
(``genhep.models``) imports every family's module, but a job of one family (a wildcard
``family``) runs only its own. Edges from the registry to a family module are followed
for that job's family only; jobs without a family follow none of them. A family module
imported directly by another module (not through the registry) is still
followed from there.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import genhep

PACKAGE = Path(genhep.__file__).resolve().parent
REGISTRY = "genhep.models"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _parents(name: str) -> list[str]:
    """``genhep.a.b`` imports ``genhep`` and ``genhep.a`` (their ``__init__``) first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@functools.cache
def _imports(path: Path) -> frozenset[str]:
    """The genhep modules a source file imports, anywhere in it."""
    modules, found = _modules(), set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from genhep import metrics` imports the module genhep.metrics.
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "genhep":
                found.update(p for p in _parents(name) if p in modules)
    return frozenset(found)


@functools.cache
def family_modules() -> dict[str, str]:
    """{family: module} from the model modules' ``family = "..."`` class attributes."""
    out = {}
    for name, path in _modules().items():
        if not name.startswith(REGISTRY + "."):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.Assign)
                        and [getattr(t, "id", None) for t in stmt.targets] == ["family"]
                        and isinstance(stmt.value, ast.Constant)
                    ):
                        out[stmt.value.value] = name
    return out


@functools.cache
def stage_sources(script: str | Path, family: str | None = None) -> tuple[str, ...]:
    """The library files a stage script runs (absolute paths, sorted)."""
    modules, by_family = _modules(), family_modules()
    own = by_family.get(family) if family else None
    family_mods = set(by_family.values())
    seen: set[str] = set()
    todo = list(_imports(Path(script).resolve()))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for dep in _imports(modules[name]):
            if name == REGISTRY and dep in family_mods and dep != own:
                continue
            todo.append(dep)
    return tuple(sorted(str(modules[name]) for name in seen))
