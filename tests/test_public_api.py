"""The public surface of each package is exactly what its ``__all__`` says.

Everything a user may import lives in a private module (``_name.py``) with its own
``__all__`` and is re-exported by the package ``__init__``. These tests catch a name
that was added to a module but not exported, exported but misspelled, or left behind
in the namespace by a stray import.
"""

from __future__ import annotations

import importlib
import importlib.resources
import pkgutil
from types import ModuleType

import pytest

import runtime_client
import runtime_client.bidi
import runtime_client.cli
import runtime_client.credentials
import runtime_client.eventstream
import runtime_client.http
import runtime_client.local
import sigv4

#: Distributions' top-level packages (each ships py.typed).
TOP_LEVEL = [sigv4, runtime_client]
PACKAGES = [
    *TOP_LEVEL,
    runtime_client.bidi,
    runtime_client.cli,
    runtime_client.credentials,
    runtime_client.eventstream,
    runtime_client.http,
    runtime_client.local,
]


def _ids(package: ModuleType) -> str:
    return package.__name__


def _declared(package: ModuleType) -> list[str]:
    declared = getattr(package, "__all__", None)
    assert isinstance(declared, list), f"{package.__name__}.__all__ must be a list of names"
    assert all(isinstance(name, str) for name in declared), (
        f"{package.__name__}.__all__ must hold only strings"
    )
    return declared


def _private_modules(package: ModuleType) -> list[str]:
    return sorted(
        f"{package.__name__}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if info.name.startswith("_")
    )


@pytest.mark.parametrize("package", PACKAGES, ids=_ids)
def test_public_names_are_exactly_all(package: ModuleType) -> None:
    # dir(), not vars(): the packages load their modules on first access (PEP 562), so a
    # public name may not be in the namespace yet; getattr() loads it.
    public = {
        name
        for name in dir(package)
        if not name.startswith("_") and not isinstance(getattr(package, name), ModuleType)
    }
    # Dunder names such as __version__ may be exported on purpose; they are not "public
    # by accident", so only the plain names are compared with the namespace.
    declared = {name for name in _declared(package) if not name.startswith("_")}
    assert public - declared == set(), (
        f"{package.__name__} has public names missing from __all__: {sorted(public - declared)}"
    )
    assert declared - public == set(), (
        f"{package.__name__}.__all__ names that are not public objects: {sorted(declared - public)}"
    )


@pytest.mark.parametrize("package", PACKAGES, ids=_ids)
def test_every_name_in_all_exists(package: ModuleType) -> None:
    declared = _declared(package)
    assert len(declared) == len(set(declared)), (
        f"{package.__name__}.__all__ has duplicates: "
        f"{sorted({n for n in declared if declared.count(n) > 1})}"
    )
    missing = [name for name in declared if not hasattr(package, name)]
    assert missing == [], f"{package.__name__}.__all__ names that do not exist: {missing}"


def _all_private_modules() -> list[str]:
    return [name for package in PACKAGES for name in _private_modules(package)]


@pytest.mark.parametrize("module_name", _all_private_modules())
def test_private_module_declares_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    declared = getattr(module, "__all__", None)
    assert isinstance(declared, list), f"{module_name} has no __all__ list"
    missing = [name for name in declared if not hasattr(module, name)]
    assert missing == [], f"{module_name}.__all__ names that do not exist: {missing}"


def test_each_package_has_private_modules() -> None:
    # Guards the parametrized test above against silently collecting nothing.
    for package in PACKAGES:
        assert _private_modules(package), f"{package.__name__} has no private modules"


@pytest.mark.parametrize("package", TOP_LEVEL, ids=_ids)
def test_py_typed_ships(package: ModuleType) -> None:
    marker = importlib.resources.files(package.__name__).joinpath("py.typed")
    assert marker.is_file(), f"{package.__name__} lacks py.typed (PEP 561 marker)"


@pytest.mark.parametrize("package", PACKAGES, ids=_ids)
def test_every_name_in_all_can_be_imported_by_name(package: ModuleType) -> None:
    # ``from package import name`` goes through the lazy loader for names not yet loaded.
    for name in _declared(package):
        namespace: dict[str, object] = {}
        exec(f"from {package.__name__} import {name}", namespace)
        assert namespace[name] is getattr(package, name)


@pytest.mark.parametrize("package", PACKAGES, ids=_ids)
def test_unknown_name_is_an_attribute_error(package: ModuleType) -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        package.no_such_name  # noqa: B018
