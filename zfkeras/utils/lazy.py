"""Lazy re-exports, so that importing a package does not import TensorFlow."""

import importlib


def lazy_exports(module_name, namespace, table):
    """Module-level ``__getattr__`` and ``__dir__`` for lazily imported names.

    Args:
        module_name: the package's name, for error messages.
        namespace: the package's ``globals()``; a name is cached there once
            imported.
        table: ``{name: module that defines it}``.

    Returns:
        ``(__getattr__, __dir__)`` to assign in the package.
    """

    def __getattr__(name):
        if name in table:
            value = getattr(importlib.import_module(table[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
