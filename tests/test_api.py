"""The top-level API: exactly ``__all__``, sorted, every statusCode error exported, and a light import."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import gwsnb
from gwsnb import errors


def test_all_is_sorted_and_unique() -> None:
    assert gwsnb.__all__ == sorted(set(gwsnb.__all__))


def test_top_level_exports_are_exactly_all() -> None:
    # every name in __all__ resolves (lazy ones included) ...
    for name in gwsnb.__all__:
        assert getattr(gwsnb, name) is not None, name
    # ... and nothing public beyond it is reachable (submodules aside)
    public = {name for name in dir(gwsnb)
              if not name.startswith("_") and not isinstance(getattr(gwsnb, name), types.ModuleType)}
    assert public == set(gwsnb.__all__) - {"__version__"}


def test_every_error_class_is_exported() -> None:
    classes = {name for name, obj in vars(errors).items()
               if inspect.isclass(obj) and issubclass(obj, errors.GwsError)}
    assert classes <= set(gwsnb.__all__)
    for name in classes:
        assert getattr(gwsnb, name) is getattr(errors, name)


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        gwsnb.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("gwsnb.NoSuchThing resolved")


def test_import_loads_neither_the_sandbox_nor_pandas() -> None:
    code = ("import sys, gwsnb; print(' '.join(m for m in ('pandas', 'aiohttp', 'gwsnb.sandbox', 'ipywidgets', "
            "'requests', 'gwsnb.client') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert loaded.split() == []


def test_lazy_names_are_the_defining_modules_objects() -> None:
    from gwsnb.client import GwsClient, connect
    from gwsnb.sandbox import Sandbox

    assert gwsnb.GwsClient is GwsClient
    assert gwsnb.connect is connect
    assert gwsnb.Sandbox is Sandbox
