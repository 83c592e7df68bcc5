"""Sub-commands of the ``tfvae`` command line, one module each.

Each module has ``register(subparsers)``, which adds its parser and sets
``handler=`` to a function ``(args) -> exit status``. :mod:`tfvae.cli`
registers the modules listed in ``COMMANDS``, in that order.
"""

COMMANDS = ("train", "configs")
