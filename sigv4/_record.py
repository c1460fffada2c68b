"""Record classes: the part of :mod:`dataclasses` this project uses, without its import cost.

A cold start (import, client, first call) is what an AWS Lambda function pays on every
new instance. Measured on the machines this project is built on (CPython 3.11), importing
:mod:`dataclasses` costs 6-9 ms (it imports :mod:`inspect`, which imports :mod:`ast`,
:mod:`dis` and :mod:`tokenize`), and each ``@dataclass`` class then compiles five or six
methods from source, 0.5-0.9 ms a class: about 30 ms for the ~30 classes the first
call needs, a quarter of the whole cold start.

:func:`record` makes the same classes from the same class bodies: fields from the
annotations in order, defaults from the class attributes, :func:`field` for
``default_factory``, ``init=False``, ``repr=False`` and ``compare=False``;
``__post_init__``; ``frozen`` and ``slots``. It compiles one function per class (the
``__init__``, so a call builds records as fast as with dataclasses); ``__repr__``,
``__eq__``, ``__hash__`` and the frozen ``__setattr__`` are shared functions that read the
field names kept on the class. A method written in the class body is never replaced.
:func:`replace` is :func:`dataclasses.replace` for records. Type checkers read records
as dataclasses (PEP 681, ``dataclass_transform``).

There is no inheritance between records, no ordering and no ``kw_only``: nothing here
uses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_options: object) -> Callable[[_T], _T]:
        return lambda function: function


__all__ = ["FrozenRecordError", "field", "field_names", "record", "replace"]

_T = TypeVar("_T")
_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "<missing>"})()


class FrozenRecordError(AttributeError):
    """An assignment to (or deletion of) a field of a frozen record."""


class Field:
    """What :func:`field` says about one field (its name is set by :func:`record`)."""

    __slots__ = ("compare", "default", "default_factory", "init", "name", "repr")

    def __init__(
        self, default: Any, default_factory: Any, init: bool, repr: bool, compare: bool
    ) -> None:
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("a field cannot have both default and default_factory")
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] = _MISSING,
    init: bool = True,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """Options for one field of a :func:`record`, as :func:`dataclasses.field`."""
    return Field(default, default_factory, init, repr, compare)


@overload
def record(cls: type[_T], /) -> type[_T]: ...
@overload
def record(
    *, frozen: bool = False, slots: bool = False, repr: bool = True, eq: bool = True
) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(field_specifiers=(field, Field))
def record(
    cls: type[_T] | None = None,
    /,
    *,
    frozen: bool = False,
    slots: bool = False,
    repr: bool = True,
    eq: bool = True,
) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """Make ``cls`` a record class (see the module's text); as ``@dataclass(...)``."""

    def wrap(cls: type[_T]) -> type[_T]:
        return _build(cls, frozen=frozen, slots=slots, repr=repr, eq=eq)

    return wrap if cls is None else wrap(cls)


def replace(obj: _T, /, **changes: Any) -> _T:
    """A copy of the record ``obj`` with some fields changed (init fields only)."""
    for name in changes:
        if name not in obj.__record_init__:  # type: ignore[attr-defined]
            raise TypeError(f"{type(obj).__name__}.{name} is not a field set by __init__")
    values = {name: getattr(obj, name) for name in obj.__record_init__}  # type: ignore[attr-defined]
    values.update(changes)
    return type(obj)(**values)


def field_names(obj: object) -> tuple[str, ...]:
    """The names of a record's fields (a record class or instance), in order."""
    names: tuple[str, ...] = getattr(obj, "__record_fields__")  # noqa: B009 - made by record()
    return names


def _fields(cls: type) -> list[Field]:
    found = []
    for name, annotation in cls.__annotations__.items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, Field) else Field(value, _MISSING, True, True, True)
        spec.name = name
        found.append(spec)
    return found


def _build(cls: type[_T], *, frozen: bool, slots: bool, repr: bool, eq: bool) -> type[_T]:
    specs = _fields(cls)
    names = tuple(spec.name for spec in specs)
    if slots:
        namespace = {k: v for k, v in cls.__dict__.items() if k not in names}
        namespace.pop("__dict__", None)
        namespace.pop("__weakref__", None)
        namespace["__slots__"] = names
        namespace["__qualname__"] = cls.__qualname__
        metaclass: Any = type(cls)
        made: Any = metaclass(cls.__name__, cls.__bases__, namespace)
        cls = made
    else:
        for spec in specs:
            if spec.default is _MISSING:
                if spec.name in cls.__dict__:
                    delattr(cls, spec.name)
            else:
                setattr(cls, spec.name, spec.default)
    own = cls.__dict__
    init_names = tuple(spec.name for spec in specs if spec.init)
    attributes: dict[str, object] = {
        "__record_fields__": names,
        "__record_init__": init_names,
        "__record_repr__": tuple(spec.name for spec in specs if spec.repr),
        "__record_compare__": tuple(spec.name for spec in specs if spec.compare),
        "__match_args__": init_names,
        "__init__": _init(cls, specs, frozen),
    }
    if repr:
        attributes["__repr__"] = _repr
    if eq:
        attributes["__eq__"] = _eq
        if "__hash__" not in own or own["__hash__"] is None:
            attributes["__hash__"] = _hash if frozen else None
    if frozen:
        attributes["__setattr__"] = _frozen_setattr
        attributes["__delattr__"] = _frozen_delattr
    if frozen and slots:  # pickle would restore the slots through the refusing __setattr__
        attributes["__getstate__"] = _slot_values
        attributes["__setstate__"] = _set_slot_values
    for name, value in attributes.items():
        if name not in own or name == "__hash__":
            setattr(cls, name, value)
    return cls


def _init(cls: type, specs: list[Field], frozen: bool) -> Callable[..., None]:
    """Compile ``__init__``: one parameter per init field, in order, as dataclasses does."""
    scope: dict[str, object] = {"_set": object.__setattr__, "_MISSING": _MISSING}
    params, body = ["self"], []
    for spec in specs:
        param, value = _init_parts(spec, scope)
        if param is not None:
            if "=" in params[-1] and "=" not in param:
                raise TypeError(
                    f"{cls.__name__}: non-default field {spec.name!r} follows a default"
                )
            params.append(param)
        if value is not None:
            name = spec.name
            body.append(f"_set(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    if "__post_init__" in cls.__dict__:
        body.append("self.__post_init__()")
    source = f"def __init__({', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    exec(source, scope)
    function: Any = scope["__init__"]
    function.__qualname__ = f"{cls.__qualname__}.__init__"
    return function  # type: ignore[no-any-return]


def _init_parts(spec: Field, scope: dict[str, object]) -> tuple[str | None, str | None]:
    """A field's parameter of ``__init__`` (None: not one) and the expression ``__init__``
    sets it to (None: it is left unset); a default or factory goes into ``scope``."""
    name = spec.name
    if spec.default is not _MISSING:
        scope[f"_d_{name}"] = spec.default
        return (f"{name}=_d_{name}", name) if spec.init else (None, f"_d_{name}")
    if spec.default_factory is not _MISSING:
        scope[f"_f_{name}"] = spec.default_factory
        if spec.init:
            return f"{name}=_MISSING", f"_f_{name}() if {name} is _MISSING else {name}"
        return None, f"_f_{name}()"
    return (name, name) if spec.init else (None, None)


def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_repr__)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: Any) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented  # type: ignore[no-any-return]
    names = self.__record_compare__
    mine = tuple(getattr(self, name) for name in names)
    return bool(mine == tuple(getattr(other, name) for name in names))


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, name) for name in self.__record_compare__))


def _slot_values(self: Any) -> tuple[object, ...]:
    return tuple(getattr(self, name) for name in self.__record_fields__)


def _set_slot_values(self: Any, state: tuple[object, ...]) -> None:
    for name, value in zip(self.__record_fields__, state, strict=True):
        object.__setattr__(self, name, value)


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenRecordError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")
