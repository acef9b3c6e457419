"""Decode request params with the reference's rules and error texts.

The reference decodes params with serde: an absent or ``null`` ``params`` is
JSON ``null``, unknown fields are ignored, and a failure is ``-32602`` with
serde's message (``missing field `clientName```, ``invalid type: integer `5`,
expected a string``). :class:`ParamsDecoder` builds one msgspec decoder per
type and translates msgspec's messages into serde's wording. A params type
may also define ``check_params(generation)``, raising ``-32602`` for what serde rejects
while decoding but a msgspec type cannot say (``AbsolutePathBuf deserialized
without a base path``); it runs right after decoding, so before the handshake
state is checked, as in the reference. Numbers follow serde_json (see
:mod:`.json_numbers`): an integer beyond u64 is a float, and one beyond f64
raises :class:`MalformedParams`.

codex 0.171 words the same failures differently (measured on 0.171.0): a number
is ``number`` without its value (``invalid type: number, expected a string``),
a negative or fractional integer is ``invalid number``, a path is ``a string``
(a PathUri), and some structs are named and counted as its ``Wire*`` types
(:data:`STRUCTS_0171`). :meth:`ParamsDecoder.decode` takes the generation to
word them in: the request's method's or session's, or 0.171 when its params
say so themselves (a ``file:`` URI).
"""

from __future__ import annotations

import re
import typing
from typing import Any, Final, Generic, TypeVar

import msgspec
from msgspec import Raw, inspect

from .errors import MalformedParams, RpcError
from .generation import Generation
from .json_numbers import (
    NUMBER_OUT_OF_RANGE,
    contains_number_beyond_f64,
    is_beyond_f64,
    is_serde_integer,
    serde_float,
)
from .paths import NOT_A_URI, NOT_ABSOLUTE

__all__ = ["STRUCTS_0171", "ParamsDecoder", "base64_error", "content_name"]

T = TypeVar("T")

_AT = re.compile(r" - at `(\$[^`]*)`$")
_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[\.\.\.\]")
STRUCTS_0171: Final[dict[str, tuple[str, int | None]]] = {
    "ExecParams": ("WireExecParams", None),
    "FsReadFileParams": ("WireFsReadFileParams", None),
    "FsWriteFileParams": ("WireFsWriteFileParams", None),
    "FsCreateDirectoryParams": ("WireFsCreateDirectoryParams", None),
    "FsGetMetadataParams": ("WireFsGetMetadataParams", None),
    "FsReadDirectoryParams": ("WireFsReadDirectoryParams", None),
    "FsRemoveParams": ("WireFsRemoveParams", None),
    "FsCopyParams": ("WireFsCopyParams", None),
    "FileSystemSandboxContext": ("WireFileSystemSandboxContext", 10),
}
"""The structs codex 0.171 names differently in its texts, and its field count where
execsrv's differs (None: the fields that are not execsrv's extensions)."""
VARIANTS_ADDED_BY_0171: Final = frozenset({"mxc"})
"""Enum values 0.171 added (the Windows sandbox level ``mxc``), which 0.130's texts do
not list; the params type's ``check_params`` refuses them in a 0.130 request."""
INVALID_NUMBER: Final = "invalid number"
"""0.171's text for a negative, fractional or oversized integer (measured on 0.171.0)."""
_B64_ALPHABET: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)


class ParamsDecoder(Generic[T]):
    """Decodes one params type; raises :class:`RpcError` ``-32602`` on failure."""

    def __init__(self, params_type: type[T]) -> None:
        self.type = params_type
        self._decoder = msgspec.json.Decoder(params_type)
        info = inspect.type_info(params_type)
        assert isinstance(info, inspect.StructType)
        self._info: inspect.StructType = info
        self._all_optional = all(not f.required for f in self._info.fields)
        self._int_fields = _int_fields(info)
        self._unit = getattr(params_type, "UNIT", False) is True

    def decode(self, raw: Raw | None, generation: Generation = Generation.V0_130) -> T:
        """The params, or ``-32602`` worded as ``generation`` words it.

        ``generation`` is what the request is answered as where its params do not
        say (its method's, else its session's); params that speak 0.171 themselves
        (a ``file:`` URI) are worded as 0.171 whatever it is. A params type's
        ``check_params(generation)`` is given it too.
        """
        if self._unit:
            return self._decode_unit(raw)
        if raw is None:
            if self._all_optional:
                return self._decoder.decode(b"{}")
            expected = _expected(self._info, generation)
            raise RpcError.invalid_params(f"invalid type: null, expected {expected}")
        try:
            params = self._decoder.decode(raw)
        except msgspec.ValidationError as error:
            raise self._failure(raw, str(error), generation) from None
        except RecursionError:
            raise RpcError.invalid_params("recursion limit exceeded") from None
        spoken = getattr(params, "generation", None)
        wording = Generation.V0_171 if spoken and spoken() is Generation.V0_171 else generation
        self._check_integers(params, wording)
        check = getattr(params, "check_params", None)
        if check is not None:
            try:
                check(generation)  # what serde rejects while decoding and msgspec cannot express
            except RpcError as error:
                if wording is Generation.V0_171 and error.message == NOT_ABSOLUTE:
                    raise RpcError.invalid_params(NOT_A_URI) from None  # a PathUri to 0.171
                raise
        return params

    def _decode_unit(self, raw: Raw | None) -> T:
        """Params that are serde's ``()``: absent, ``null`` or ``{}``; anything else
        is ``invalid type: map, expected unit`` (JSON numbers are all ``number``)."""
        try:
            value = None if raw is None else msgspec.json.decode(raw)
        except (msgspec.ValidationError, RecursionError):
            raise MalformedParams(NUMBER_OUT_OF_RANGE) from None
        if value is None or value == {}:
            return self._decoder.decode(b"{}")
        found = "number" if isinstance(value, int | float) and not isinstance(value, bool) else None
        raise RpcError.invalid_params(f"invalid type: {found or _unexpected(value)}, expected unit")

    def _check_integers(self, params: object, generation: Generation) -> None:
        """Integer fields beyond u64 or i64, which msgspec accepts and serde does not.

        To serde_json such an integer is an f64: ``-32602 invalid type: floating
        point`` (or, beyond f64, a message it cannot parse at all).
        """
        for path, info in self._int_fields:
            value = params
            for name in path:
                value = getattr(value, name)
                if value is None:  # an absent optional struct or integer
                    break
            if isinstance(value, int) and not is_serde_integer(value):
                if is_beyond_f64(value):
                    raise MalformedParams(NUMBER_OUT_OF_RANGE)
                if generation is Generation.V0_171:
                    raise RpcError.invalid_params(INVALID_NUMBER)
                raise RpcError.invalid_params(
                    f"invalid type: {_unexpected(value)}, expected {_expected(info)}"
                )

    def _failure(
        self, raw: Raw, message: str, generation: Generation
    ) -> RpcError | MalformedParams:
        """What the reference reports for params msgspec rejected with ``message``.

        A number serde_json cannot read anywhere in them fails the whole message
        (:class:`MalformedParams`), whichever field msgspec stumbled on first.
        """
        try:
            value = msgspec.json.decode(raw)
        except msgspec.ValidationError:  # a float beyond f64, or an int beyond Python's limit
            return MalformedParams(NUMBER_OUT_OF_RANGE)
        except RecursionError:
            return RpcError.invalid_params(message)
        if contains_number_beyond_f64(value):
            return MalformedParams(NUMBER_OUT_OF_RANGE)
        try:
            return RpcError.invalid_params(self._serde_message(value, message, generation))
        except RecursionError:
            return RpcError.invalid_params(message)

    def _serde_message(self, value: Any, message: str, generation: Generation) -> str:
        match = _AT.search(message)
        path = match.group(1) if match else "$"
        text = message[: match.start()] if match else message
        if path == "$" and not isinstance(value, dict):
            if isinstance(value, list):
                return (
                    f"invalid length {len(value)}, expected "
                    f"{_expected(self._info, generation)} with "
                    f"{_field_count(self._info, generation)} elements"
                )
            found = _unexpected(value, generation)
            return f"invalid type: {found}, expected {_expected(self._info, generation)}"
        if text.startswith("Object missing required field "):
            return "missing field " + text.removeprefix("Object missing required field ")
        found, info, annotation = _resolve(value, self._info, path)
        if text.startswith("Invalid enum value"):
            variants = _literal_values(annotation)
            if generation is Generation.V0_130:
                variants = tuple(v for v in variants if v not in VARIANTS_ADDED_BY_0171)
            return f"unknown variant `{found}`, {_one_of(variants)}"
        if text.startswith("Invalid base64"):
            return _base64_message(found, generation)
        number = isinstance(found, int | float) and not isinstance(found, bool)
        if generation is Generation.V0_171 and number and _is_int(info):
            return INVALID_NUMBER  # a negative, fractional or oversized integer
        if isinstance(found, int) and not isinstance(found, bool) and _is_int(info):
            kind = "value" if is_serde_integer(found) else "type"  # beyond u64: an f64 to serde
            return f"invalid {kind}: {_unexpected(found)}, expected {_expected(info)}"
        if text.startswith("Expected"):
            found_text = _unexpected(found, generation)
            return f"invalid type: {found_text}, expected {_expected(info, generation)}"
        return text


def _field_count(info: inspect.StructType, generation: Generation) -> int:
    """How many fields serde says a struct has: codex's fields, not execsrv's extensions."""
    if generation is Generation.V0_171:
        count = STRUCTS_0171.get(info.cls.__name__, ("", None))[1]
        if count is not None:
            return count
        return sum(not _is_extension(field.type) for field in info.fields)
    return sum(not _added_by_0171(field.type) for field in info.fields)


def _is_extension(info: inspect.Type) -> bool:
    """An execsrv extension field (DESIGN.md §1.2), which no codex struct counts."""
    return isinstance(info, inspect.Metadata) and (info.extra or {}).get("extension") is True


def _added_by_0171(info: inspect.Type) -> bool:
    """A field 0.171 added to 0.130's params: 0.130's serde does not count it."""
    return isinstance(info, inspect.Metadata) and (info.extra or {}).get("since") == "0.171.0"


def _int_fields(info: inspect.StructType) -> list[tuple[tuple[str, ...], inspect.Type]]:
    """Attribute paths to the integer fields of a params struct and its nested structs."""
    found: list[tuple[tuple[str, ...], inspect.Type]] = []
    for field in info.fields:
        inner = _unwrap(field.type)
        if isinstance(inner, inspect.IntType):
            found.append(((field.name,), field.type))
        elif isinstance(inner, inspect.StructType) and inner is not info:
            found.extend(((field.name, *path), t) for path, t in _int_fields(inner))
    return found


def _unwrap(info: inspect.Type) -> inspect.Type:
    """Strip ``Optional`` and metadata wrappers, as serde's messages do."""
    while True:
        if isinstance(info, inspect.Metadata):
            info = info.type
        elif isinstance(info, inspect.UnionType):
            rest = [t for t in info.types if not isinstance(t, inspect.NoneType)]
            if len(rest) != 1:
                return info
            info = rest[0]
        else:
            return info


def _rust_name(info: inspect.Type) -> str | None:
    """The ``Meta(extra={"rust": ...})`` name, under ``Optional`` and other metadata.

    A field's own ``Annotated[U64 | None, Meta(description=...)]`` wraps the
    integer's metadata; the name is found through it.
    """
    while True:
        if isinstance(info, inspect.Metadata):
            name = (info.extra or {}).get("rust")
            if isinstance(name, str):
                return name
            info = info.type
        elif isinstance(info, inspect.UnionType):
            rest = [t for t in info.types if not isinstance(t, inspect.NoneType)]
            if len(rest) != 1:
                return None
            info = rest[0]
        else:
            return None


def _is_int(info: inspect.Type) -> bool:
    return isinstance(_unwrap(info), inspect.IntType)


def _expected(info: inspect.Type, generation: Generation = Generation.V0_130) -> str:
    rust = _rust_name(info)
    if rust == "path string" and generation is Generation.V0_171:
        return "a string"  # 0.171's paths are PathUri strings
    if rust:
        return rust
    info = _unwrap(info)
    match info:
        case inspect.StructType():
            name = info.cls.__name__
            if generation is Generation.V0_171:
                name = STRUCTS_0171.get(name, (name, None))[0]
            return f"struct {name}"
        case inspect.StrType() | inspect.BytesType():
            return "a string"
        case inspect.LiteralType():  # a Rust enum of unit variants: a name, or {name: null}
            return "string or map"
        case inspect.BoolType():
            return "a boolean"
        case inspect.IntType():
            return "i64"
        case inspect.ListType():
            return "a sequence"
        case inspect.DictType():
            return "a map"
    return "a value"


def _unexpected(value: Any, generation: Generation = Generation.V0_130) -> str:
    """serde's name for a JSON value; 0.171 names any number ``number``."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if generation is Generation.V0_171 and number:
        return "number"
    match value:
        case None:
            return "null"
        case bool():
            return f"boolean `{str(value).lower()}`"
        case int() if is_serde_integer(value):
            return f"integer `{value}`"
        case int():
            return f"floating point `{serde_float(float(value))}`"
        case float():
            return f"floating point `{serde_float(value)}`"
        case str():
            return f'string "{value}"'
        case list():
            return "sequence"
    return "map"


def content_name(value: Any) -> str:
    """serde's name for a JSON value it read as buffered content (an internally
    tagged enum's): a number keeps its value (``integer `5```) in both generations."""
    return _unexpected(value)


def _one_of(variants: tuple[Any, ...]) -> str:
    """serde's list of expected variants: `a`, `a` or `b`, or one of `a`, `b`, `c`."""
    names = [f"`{v}`" for v in variants]
    if len(names) == 1:
        return f"expected {names[0]}"
    if len(names) == 2:
        return f"expected {names[0]} or {names[1]}"
    return f"expected one of {', '.join(names)}"


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    """A ``Literal``'s values in declaration order (msgspec's inspect sorts them),
    found under ``Annotated`` and unions (``Literal[...] | UnsetType``)."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        if values := _literal_values(arg):
            return values
    return ()


def _resolve(value: Any, info: inspect.Type, path: str) -> tuple[Any, inspect.Type, Any]:
    """Follow a msgspec error path (``$.envPolicy.inherit``) into value and type.

    Also returns the Python annotation of the last struct field on the path.
    """
    annotation: Any = None
    for part in _PATH_PART.finditer(path[1:]):
        key, index = part.group(1), part.group(2)
        info = _unwrap(info)
        if key is not None and isinstance(info, inspect.StructType) and isinstance(value, dict):
            info_cls = info.cls
            field = next((f for f in info.fields if f.encode_name == key), None)
            value = value.get(key)
            info = field.type if field else inspect.AnyType()
            annotations = {f.encode_name: f.type for f in msgspec.structs.fields(info_cls)}
            annotation = annotations.get(key)
        elif index is not None and isinstance(info, inspect.ListType) and isinstance(value, list):
            value = value[int(index)] if int(index) < len(value) else None
            info = info.item_type
        elif isinstance(info, inspect.DictType) and isinstance(value, dict):
            # msgspec writes dict values as `[...]`; report the first offending value.
            info = info.value_type
            value = next((v for v in value.values() if not isinstance(v, str)), None)
    return value, info, annotation


def base64_error(text: str) -> str:
    """Why Rust's ``base64`` crate (STANDARD engine) rejects ``text``.

    For input :func:`binascii.a2b_base64` (strict) refuses, or whose last
    symbol has non-zero unused bits; e.g. ``Invalid symbol 33, offset 0.``
    """
    return _base64_message(text)


def _base64_message(found: Any, generation: Generation = Generation.V0_130) -> str:
    """The error Rust's ``base64`` crate (0.22, STANDARD engine) reports for ``found``.

    It checks in this order: a lone invalid last byte; every byte before the last
    (partial) quad; then that quad: misplaced ``=``, too few symbols, padding,
    and finally non-zero trailing bits.
    """
    if not isinstance(found, str):
        return f"invalid type: {_unexpected(found, generation)}, expected a string"
    data = found.encode()
    pad = ord("=")
    remainder = len(data) % 4
    if remainder == 1 and data[-1] != pad and data[-1] not in _B64_ALPHABET:
        return f"Invalid symbol {data[-1]}, offset {len(data) - 1}."
    start = max(len(data) - remainder - (4 if remainder == 0 else 0), 0)
    for offset in range(start):
        if data[offset] not in _B64_ALPHABET:
            return f"Invalid symbol {data[offset]}, offset {offset}."
    symbols = padding = first_pad = last = 0
    for offset in range(start, len(data)):
        byte = data[offset]
        if byte == pad:
            if offset - start < 2:
                return f"Invalid symbol {byte}, offset {offset}."
            first_pad = first_pad or offset
            padding += 1
        elif padding:
            return f"Invalid symbol {pad}, offset {first_pad}."
        elif byte not in _B64_ALPHABET:
            return f"Invalid symbol {byte}, offset {offset}."
        else:
            symbols, last = symbols + 1, byte
    if data and symbols < 2:
        return f"Invalid input length: {start + symbols}"
    if (symbols + padding) % 4:
        return "Invalid padding"
    return f"Invalid last symbol {last}, offset {start + symbols - 1}."
