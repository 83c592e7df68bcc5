"""Sub-commands of the ``tfvae`` command line, one module each.

Each module of this package has ``register(subparsers)``, which adds its
parser and sets ``handler=`` to a function ``(args) -> exit status``.
:mod:`tfvae.cli` registers every module found here: those named in
``ORDER`` first, in that order, then the others alphabetically.
"""

import pkgutil

ORDER = ("train", "evaluate", "plot", "sample", "export", "configs")


def command_names() -> list[str]:
    """Names of the command modules of this package, in help order."""
    found = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))
