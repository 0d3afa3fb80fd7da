"""One generic codec between the engine's frozen dataclasses and JSON-ready values.

`to_json` turns a dataclass (nested ones, enums, tuples, dicts) into plain JSON values;
`from_json` reads one back by its type hints, checking every value and naming the failing
field's path (`checks[2].gates.topk`) in a `CodecError`. Pure Python: no torch.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


class CodecError(ValueError):
    """A JSON value does not fit the type it is read as; `path` names where it sits."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"field '{path}' {problem}" if path else problem)
        self.path = path
        self.problem = problem


def to_json(value: Any) -> Any:
    """A JSON-ready value: dataclasses as objects (field order), enums by value, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return value


def from_json(kind: Any, value: Any, path: str = "") -> Any:
    """`value` read as `kind` (a dataclass or a typing form); raises CodecError."""
    reader = _reader(kind)
    return reader(value, path)


def fields_from_json(cls: type[T], data: dict[str, Any], path: str = "") -> dict[str, Any]:
    """Each field of dataclass `cls` read from `data` (missing ones with defaults skipped)."""
    hints = _hints(cls)  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        where = _join(path, field.name)
        if field.name not in data:
            if _has_default(field):
                continue
            raise CodecError(where, f"is missing; expected {expected(hints[field.name])}")
        values[field.name] = from_json(hints[field.name], data[field.name], where)
    return values


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _has_default(field: dataclasses.Field[Any]) -> bool:
    return (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def expected(kind: Any) -> str:
    """What a value of `kind` looks like, in words."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    words: dict[Any, str] = {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a string",
        type(None): "null",
    }
    if kind in words:
        return words[kind]
    if origin in (typing.Union, types.UnionType):
        return " or ".join(expected(arg) for arg in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(arg) for arg in args)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "one of " + ", ".join(repr(member.value) for member in kind)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return f"a list of {_plural(args[0])}"
    if origin is tuple:
        return f"a list of {len(args)} items"
    if dataclasses.is_dataclass(kind) or origin is dict:
        return "an object"
    return str(kind)


def _plural(kind: Any) -> str:
    plurals = {int: "integers", float: "numbers", bool: "booleans", str: "strings"}
    return plurals.get(kind, "items")


Reader = Callable[[Any, str], Any]


def _scalar(kind: type, accept: Callable[[Any], bool]) -> Reader:
    def read(value: Any, path: str) -> Any:
        if not accept(value):
            raise CodecError(path, f"is {_shown(value)}; expected {expected(kind)}")
        return kind(value) if kind is not type(None) else None

    return read


def _reader(kind: Any) -> Reader:
    """A function reading JSON values as `kind`."""
    scalars: dict[Any, Callable[[Any], bool]] = {
        int: _is_int,
        float: _is_number,
        bool: lambda v: isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        type(None): lambda v: v is None,
    }
    if kind in scalars:
        return _scalar(kind, scalars[kind])
    if kind is Any:
        return lambda value, path: value
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return _union_reader(kind, [_reader(arg) for arg in args])
    if origin is typing.Literal:
        return _scalar_choice(kind, args)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _enum_reader(kind)
    if origin is tuple:
        return _tuple_reader(kind, args)
    if origin is dict:
        return _dict_reader(args[1])
    if dataclasses.is_dataclass(kind):
        return _dataclass_reader(kind)  # type: ignore[arg-type]
    raise TypeError(f"the codec cannot read {kind!r}")


def _union_reader(kind: Any, readers: list[Reader]) -> Reader:
    def read(value: Any, path: str) -> Any:
        for reader in readers:
            try:
                return reader(value, path)
            except CodecError:
                continue
        raise CodecError(path, f"is {_shown(value)}; expected {expected(kind)}")

    return read


def _scalar_choice(kind: Any, options: tuple[Any, ...]) -> Reader:
    def read(value: Any, path: str) -> Any:
        if value not in options:
            raise CodecError(path, f"is {_shown(value)}; expected {expected(kind)}")
        return value

    return read


def _enum_reader(kind: type[enum.Enum]) -> Reader:
    def read(value: Any, path: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise CodecError(path, f"is {_shown(value)}; expected {expected(kind)}") from None

    return read


def _tuple_reader(kind: Any, args: tuple[Any, ...]) -> Reader:
    variadic = len(args) == 2 and args[1] is Ellipsis
    readers = [_reader(args[0])] if variadic else [_reader(arg) for arg in args]

    def read(value: Any, path: str) -> Any:
        if not isinstance(value, list) or (not variadic and len(value) != len(readers)):
            raise CodecError(path, f"is {_shown(value)}; expected {expected(kind)}")
        items = zip(readers * len(value) if variadic else readers, value, strict=False)
        return tuple(reader(item, f"{path}[{i}]") for i, (reader, item) in enumerate(items))

    return read


def _dict_reader(value_kind: Any) -> Reader:
    read_value = _reader(value_kind)

    def read(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise CodecError(path, f"is {_shown(value)}; expected an object")
        return {key: read_value(item, _join(path, key)) for key, item in value.items()}

    return read


def _dataclass_reader(cls: type) -> Reader:
    def read(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise CodecError(path, f"is {_shown(value)}; expected an object")
        return cls(**fields_from_json(cls, value, path))

    return read
