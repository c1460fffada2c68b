"""``sigv4._record`` against :mod:`dataclasses`, its oracle: the same class body makes a
class that behaves the same (arguments, defaults, repr, equality, hashing, frozen-ness,
slots, ``__post_init__``, ``replace``) for every option the project uses.
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigv4._record import FrozenRecordError, field, field_names, record, replace

Options = dict[str, bool]
# (name, kind) per field: kind says what field() gets, if anything.
KINDS = ("plain", "default", "factory", "no-repr", "no-compare", "no-init")


def _body(fields: list[tuple[str, str]], make_field: Any) -> dict[str, Any]:
    annotations: dict[str, str] = {}
    namespace: dict[str, Any] = {"__annotations__": annotations}
    for name, kind in fields:
        annotations[name] = "Any"
        if kind == "default":
            namespace[name] = 7
        elif kind == "factory":
            namespace[name] = make_field(default_factory=list)
        elif kind == "no-repr":
            namespace[name] = make_field(default="hidden", repr=False)
        elif kind == "no-compare":
            namespace[name] = make_field(default=0, compare=False)
        elif kind == "no-init":
            namespace[name] = make_field(default_factory=dict, init=False)
    return namespace


def _pair(fields: list[tuple[str, str]], options: Options) -> tuple[type, type]:
    ours: type = record(**options)(type("R", (), _body(fields, field)))
    theirs: type = dataclasses.dataclass(**options)(type("R", (), _body(fields, dataclasses.field)))
    return ours, theirs


def _legal(fields: list[tuple[str, str]]) -> bool:
    """dataclasses' rule: no argument without a default after one with a default."""
    kinds = [kind for _, kind in fields if kind != "no-init"]
    first_default = next((i for i, k in enumerate(kinds) if k != "plain"), len(kinds))
    return "plain" not in kinds[first_default:]


FIELD_LISTS = st.lists(st.sampled_from(KINDS), max_size=6).map(
    lambda kinds: [(f"f{i}", kind) for i, kind in enumerate(kinds)]
)
OPTIONS = st.fixed_dictionaries(
    {"frozen": st.booleans(), "slots": st.booleans(), "eq": st.booleans(), "repr": st.booleans()}
)


@given(fields=FIELD_LISTS, options=OPTIONS, values=st.lists(st.integers(0, 3), min_size=6))
def test_the_same_class_body_behaves_as_a_dataclass(
    fields: list[tuple[str, str]], options: Options, values: list[int]
) -> None:
    if not _legal(fields):
        with pytest.raises(TypeError):
            dataclasses.dataclass(**options)(type("R", (), _body(fields, dataclasses.field)))
        with pytest.raises(TypeError, match="follows a default"):
            record(**options)(type("R", (), _body(fields, field)))
        return
    ours, theirs = _pair(fields, options)
    assert ours.__match_args__ == theirs.__match_args__  # type: ignore[attr-defined]
    args = [values[i] for i, (_, kind) in enumerate(fields) if kind == "plain"]
    a, b = ours(*args), theirs(*args)
    if options["repr"]:
        assert repr(a) == repr(b)
    assert (a == ours(*args)) == (b == theirs(*args))
    assert (ours.__hash__ is None) == (theirs.__hash__ is None)
    hashable = all(kind not in ("factory", "no-init") for _, kind in fields)
    if ours.__hash__ is not None and options["eq"] and hashable:
        assert hash(a) == hash(ours(*args))
    for name, _ in fields:
        assert getattr(a, name) == getattr(b, name)
    assert hasattr(a, "__dict__") == hasattr(b, "__dict__")
    if fields:
        name = fields[0][0]
        if options["frozen"]:
            with pytest.raises(FrozenRecordError):
                setattr(a, name, 1)
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(b, name, 1)
        else:
            setattr(a, name, 1)
            assert getattr(a, name) == 1


def test_a_frozen_record_refuses_assignment_and_deletion_as_an_attribute_error() -> None:
    @record(frozen=True)
    class Point:
        x: int
        y: int = 0

    point = Point(1)
    with pytest.raises(AttributeError, match="cannot assign to field 'x' of a frozen Point"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete field 'y'"):
        del point.y
    assert point == Point(1, 0)
    assert hash(point) == hash(Point(1, 0))
    assert point != Point(2)
    assert {point: 1}[Point(1)] == 1


def test_defaults_factories_post_init_and_class_vars() -> None:
    made: list[int] = []

    @record(frozen=True, slots=True)
    class Settings:
        LIMIT: ClassVar[int] = 3
        name: str
        tags: list[str] = field(default_factory=list)
        secret: str = field(default="", repr=False)
        derived: int = field(default=0, init=False, compare=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "derived", len(self.name))
            made.append(self.derived)

    one, two = Settings("abc"), Settings("abc")
    assert one.tags == []
    assert one.tags is not two.tags
    assert one.derived == 3
    assert made == [3, 3]
    assert Settings.LIMIT == 3
    assert repr(one).endswith(".Settings(name='abc', tags=[], derived=3)")  # no secret
    assert field_names(Settings) == ("name", "tags", "secret", "derived")
    assert not hasattr(one, "__dict__")


def test_a_method_written_in_the_class_body_is_kept() -> None:
    @record(frozen=True)
    class Masked:
        token: str

        def __repr__(self) -> str:
            return "Masked(token=***)"

    assert repr(Masked("s3cr3t")) == "Masked(token=***)"


def test_replace_makes_a_changed_copy_and_names_a_field_it_cannot_set() -> None:
    @record(frozen=True)
    class Pair:
        left: int
        right: int = 2
        seen: int = field(default=0, init=False)

    pair = Pair(1)
    assert replace(pair, right=5) == Pair(1, 5)
    assert pair == Pair(1, 2)
    with pytest.raises(TypeError, match=r"Pair\.seen is not a field set by __init__"):
        replace(pair, seen=1)
    with pytest.raises(TypeError, match=r"Pair\.nope"):
        replace(pair, nope=1)


def test_field_refuses_a_default_and_a_factory_together() -> None:
    with pytest.raises(ValueError, match="both default and default_factory"):
        field(default=1, default_factory=list)


def test_records_pickle_frozen_and_slotted_ones_too() -> None:
    from runtime_client.eventstream import HeaderType, HeaderValue
    from sigv4 import Credentials

    creds = Credentials("AKID", "secret", "token")
    assert pickle.loads(pickle.dumps(creds)) == creds
    value = HeaderValue(HeaderType.STRING, "PayloadPart")  # frozen, with slots
    assert pickle.loads(pickle.dumps(value)) == value
