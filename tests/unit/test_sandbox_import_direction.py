"""Which package may import which: the dependency arrows the architecture promises (docs/architecture.md)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SANDBOX = "paytrace_sl_sandbox"
# What the production wheel ships and Airflow loads: the library, the Airflow adapters, the DAG files.
PRODUCTION = (REPO / "include" / "paytrace_sl", REPO / "plugins" / "paytrace_sl_airflow", REPO / "dags")
_DYNAMIC_IMPORTS = {"import_module", "__import__", "find_spec"}


def _imported_names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module name the code imports: import statements anywhere (also inside functions and
    ``if TYPE_CHECKING``) and string arguments of importlib.import_module / __import__ / find_spec."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _DYNAMIC_IMPORTS:
                for arg in node.args[:1]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        yield node.lineno, arg.value


def _sandbox_imports(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    return [
        f"{filename}:{line}: {name}"
        for line, name in _imported_names(tree)
        if name == SANDBOX or name.startswith(f"{SANDBOX}.")
    ]


def test_production_package_never_imports_the_sandbox() -> None:
    files = sorted(p for root in PRODUCTION for p in root.rglob("*.py"))
    assert len(files) > 60  # the scan really covers the library, the adapters and the DAG files
    offenders = [
        hit for path in files for hit in _sandbox_imports(path.read_text(), str(path.relative_to(REPO)))
    ]
    assert offenders == []


def test_the_scan_sees_every_way_of_importing_the_sandbox() -> None:
    """The check above cannot pass by not looking: each of these spellings is found."""
    spellings = [
        "import paytrace_sl_sandbox",
        "import paytrace_sl_sandbox.server as s",
        "from paytrace_sl_sandbox import demo",
        "from paytrace_sl_sandbox.sl_seed import init_sandbox",
        "def f():\n    from paytrace_sl_sandbox.merchant import MerchantConfig",
        "if TYPE_CHECKING:\n    import paytrace_sl_sandbox.faults",
        "import importlib\nimportlib.import_module('paytrace_sl_sandbox.cli')",
        "__import__('paytrace_sl_sandbox')",
    ]
    for source in spellings:
        assert _sandbox_imports(source, "x.py"), source
    harmless = [
        "import paytrace_sl",
        "from paytrace_sl.cli import app",
        "import paytrace_sl_sandboxes",  # another name that merely starts the same
        '"""the sandbox lives in paytrace_sl_sandbox.server"""',
    ]
    for source in harmless:
        assert _sandbox_imports(source, "x.py") == [], source
