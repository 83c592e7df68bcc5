"""Lower layers never import upper ones (docs/design: ``data``, ``distributions``, ``networks``, ``layers``
-> ``models`` -> ``applications`` -> the experiment/run layer -> ``commands``).

The first test reads the source with :mod:`ast`, so it also sees function-local imports (the ones that
hide a cycle at import time); the second imports the lower layers in a fresh process and checks which
upper modules came along.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1] / "tfvae"

LOWER = ("tfvae.data", "tfvae.distributions", "tfvae.networks", "tfvae.layers")
UPPER = (
    "tfvae.models",
    "tfvae.applications",
    "tfvae.experiment",
    "tfvae.commands",
    "tfvae.loops",
)


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _lower_modules() -> list[pathlib.Path]:
    paths = []
    for package in LOWER:
        paths.extend(sorted((PACKAGE_ROOT.parent / package.replace(".", "/")).rglob("*.py")))
    return paths


def imported_names(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import in ``source``, top-level or inside a function.

    ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be a submodule); relative imports are
    resolved against ``module``'s package (``module`` itself when ``is_package``).
    """
    package = module if is_package else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append((node.lineno, target))
            names.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return names


def _is_upper(name: str) -> bool:
    return any(name == upper or name.startswith(upper + ".") for upper in UPPER)


def test_the_parser_sees_relative_and_function_local_imports():
    source = ("def f():\n    from ..models import vae\n    import tfvae.applications.recommender\n"
              "from . import idx_format\n")
    names = {name for _, name in imported_names(source, "tfvae.data.x")}
    assert {"tfvae.models", "tfvae.models.vae", "tfvae.applications.recommender", "tfvae.data.idx_format"} <= names
    assert "tfvae.data.sources.base" in {name for _, name in imported_names("from .base import X", "tfvae.data.sources",
                                                                              is_package=True)}


@pytest.mark.parametrize("path", _lower_modules(), ids=lambda p: _module_name(p))
def test_no_lower_layer_module_imports_an_upper_layer(path):
    names = imported_names(path.read_text(), _module_name(path), is_package=path.name == "__init__.py")
    offending = [f"line {line}: {name}" for line, name in names if _is_upper(name)]
    assert not offending, f"{_module_name(path)} imports an upper layer: {'; '.join(offending)}"


def test_importing_the_lower_layers_loads_no_upper_layer():
    code = (
        "import sys, tfvae.data, tfvae.distributions, tfvae.networks, tfvae.layers\n"
        f"upper = sorted(m for m in sys.modules if m.startswith({UPPER!r}))\n"
        "assert not upper, upper\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


#: The layers of docs/contributing.md, bottom to top: a module imports only from its own layer or a lower one.
LAYERS = (
    ("tfvae._backend", "tfvae.errors", "tfvae.registry", "tfvae.validation", "tfvae.random", "tfvae.kl",
     "tfvae.fileio", "tfvae.functions", "tfvae.progress", "tfvae.performance", "tfvae.jit_trial", "tfvae.config",
     "tfvae.sizes", "tfvae.distribute", "tfvae.data", "tfvae.distributions", "tfvae.networks", "tfvae.layers"),
    ("tfvae.models",),
    ("tfvae.loops", "tfvae.metrics", "tfvae.export", "tfvae.viz", "tfvae.applications"),
    ("tfvae.experiment",),
    ("tfvae.commands", "tfvae.cli"),
)


def layer_of(name: str) -> int | None:
    """The layer of module ``name`` (None: ``tfvae`` itself, or not tfvae)."""
    for level, packages in enumerate(LAYERS):
        if any(name == package or name.startswith(package + ".") for package in packages):
            return level
    return None


def _all_modules() -> list[pathlib.Path]:
    return sorted(path for path in PACKAGE_ROOT.rglob("*.py") if path.parent != PACKAGE_ROOT or path.stem != "__init__")


def test_every_tfvae_module_has_a_layer():
    unplaced = [_module_name(path) for path in _all_modules() if layer_of(_module_name(path)) is None]
    assert not unplaced, f"place these in LAYERS (and in docs/contributing.md): {unplaced}"


@pytest.mark.parametrize("path", _all_modules(), ids=lambda p: _module_name(p))
def test_no_module_imports_a_higher_layer(path):
    module = _module_name(path)
    level = layer_of(module)
    names = imported_names(path.read_text(), module, is_package=path.name == "__init__.py")
    offending = [f"line {line}: {name}" for line, name in names
                 if name.startswith("tfvae.") and (layer_of(name) or 0) > level]
    assert not offending, f"{module} (layer {level}) imports a higher layer: {'; '.join(offending)}"
