"""Imports between library packages run one way (issue 10): an AST scan of every module, lazy imports
inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import paytrace_sl

LIBRARY = Path(paytrace_sl.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return _imported_from_source(path.read_text(encoding="utf-8"), package)


def _imported_from_source(source: str, package: str) -> set[str]:
    """Every module ``source`` imports: ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a`` and
    ``a.b`` (``b`` may be a submodule); relative imports are resolved against ``package``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _hits(imported: set[str], target: str) -> list[str]:
    return sorted(m for m in imported if m == target or m.startswith(target + "."))


def _modules(package: str) -> list[Path]:
    return sorted((LIBRARY / package).rglob("*.py"))


def _is_orchestration(path: Path) -> bool:
    rel = path.relative_to(LIBRARY / "pipeline").parts
    return rel == ("runner.py",) or rel[0] == "flows"


def test_pipeline_and_reconcile_import_one_way() -> None:
    """Outside its orchestration (``runner.py``, ``flows/``) the pipeline never imports ``reconcile``;
    ``reconcile`` may use pure pipeline modules (``settlement.classify``) but never the orchestration."""
    pipeline_modules = _modules("pipeline")
    reconcile_modules = _modules("reconcile")
    assert len(pipeline_modules) > 10 and len(reconcile_modules) > 5  # the scan really sees the packages

    wrong_way = {
        _module_name(p): hits
        for p in pipeline_modules
        if not _is_orchestration(p) and (hits := _hits(_imported(p), "paytrace_sl.reconcile"))
    }
    assert wrong_way == {}, f"pipeline modules importing reconcile (move the I/O to reconcile/): {wrong_way}"

    orchestration = ("paytrace_sl.pipeline.runner", "paytrace_sl.pipeline.flows")
    cycles = {
        _module_name(p): hits
        for p in reconcile_modules
        if (hits := [h for target in orchestration for h in _hits(_imported(p), target)])
    }
    assert cycles == {}, f"reconcile modules importing the pipeline's orchestration: {cycles}"

    # The scanner finds imports in both directions where they are allowed (else it proves nothing).
    assert _hits(_imported(LIBRARY / "reconcile" / "settled_batch.py"), "paytrace_sl.pipeline.settlement")
    orchestrators = [p for p in pipeline_modules if _is_orchestration(p)]
    assert any(_hits(_imported(p), "paytrace_sl.reconcile") for p in orchestrators)


def test_import_scanner_sees_lazy_relative_and_from_imports() -> None:
    """The scanner itself: a lazy import inside a function, ``from pkg import module``, a relative import
    and a plain dotted import are all reported (a scanner missing them would pass any layering)."""
    source = (
        "def f():\n    from paytrace_sl import reconcile\n"
        "from ..reconcile import engine\n"
        "import paytrace_sl.reconcile.model\n"
        "from .settlement import classify\n"
    )
    imported = _imported_from_source(source, "paytrace_sl.pipeline")
    assert _hits(imported, "paytrace_sl.reconcile") == [
        "paytrace_sl.reconcile",
        "paytrace_sl.reconcile.engine",
        "paytrace_sl.reconcile.model",
    ]
    assert "paytrace_sl.pipeline.settlement.classify" in imported
    assert _hits({"paytrace_sl.reconciler"}, "paytrace_sl.reconcile") == []  # a prefix is not a package
