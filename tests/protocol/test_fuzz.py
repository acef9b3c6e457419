"""Property tests of the sans-IO protocol: bad input never raises anything unexpected.

``decode_message`` must never raise (the server answers a malformed frame with
``-32600`` and keeps the connection), and every method's ``ParamsDecoder``
either decodes or raises ``RpcError(-32602)``: anything else would escape the
dispatcher as an internal error or worse.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from execsrv.protocol.errors import INVALID_PARAMS, MalformedParams, RpcError
from execsrv.protocol.jsonrpc import (
    IncomingError,
    IncomingNotification,
    IncomingRequest,
    IncomingResponse,
    MalformedMessage,
    decode_message,
)
from execsrv.protocol.methods import METHODS

FUZZ = settings(max_examples=200, deadline=None)


def _field_names() -> list[str]:
    names: set[str] = set()
    pending: list[type] = [spec.params for spec in METHODS.values()]
    seen: set[type] = set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for field in msgspec.structs.fields(cls):
            names.add(field.encode_name)
            for arg in getattr(field.type, "__args__", ()) or ():
                if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
                    pending.append(arg)
    return sorted(names)


FIELD_NAMES = _field_names()

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**400, -1, 0])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "aGkK", "!!!!", "a", "core", "all", "none", "kill", "p", "/", "true"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=25,
)
"""Arbitrary JSON, with keys biased towards real field names so decoding goes deep."""

params_objects = (
    st.fixed_dictionaries({}, optional={name: json_values for name in FIELD_NAMES}) | json_values
)

ids = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=10),
    st.none(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.integers(min_value=2**63, max_value=2**70),
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "id": ids,
        "method": st.sampled_from([*METHODS, "initialized", "foo/bar"]) | json_values,
        "params": params_objects,
        "result": json_values,
        "error": json_values | st.fixed_dictionaries({"code": json_values, "message": json_values}),
        "jsonrpc": st.just("2.0"),
    },
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    """A valid frame with bytes cut out, spliced in, or replaced."""
    frame = bytearray(_dumps(draw(envelopes)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(frame)))
        action = draw(st.sampled_from(["cut", "insert", "replace"]))
        junk = draw(
            st.binary(min_size=1, max_size=4)
            | st.sampled_from([b"\xff", b'"', b"{", b"]", b"\\u", b"\xed\xa0\x80"])
        )
        if action == "cut":
            del frame[at : at + len(junk)]
        elif action == "insert":
            frame[at:at] = junk
        else:
            frame[at : at + len(junk)] = junk
    return bytes(frame)


def _check(message: object) -> None:
    assert isinstance(
        message,
        IncomingRequest
        | IncomingNotification
        | IncomingResponse
        | IncomingError
        | MalformedMessage,
    )
    if isinstance(message, MalformedMessage):
        assert isinstance(message.detail, str)
        assert message.detail


@FUZZ
@given(frame=st.binary(max_size=200) | mangled())
@example(frame=b"\xff")
@example(frame=b'{"id":1,"method":"m","params":{"x":"\xff"}}')
@example(frame=b"[" * 5000)
@example(frame=b'{"params":' + b"[" * 5000 + b"]" * 5000 + b"}")  # deeper than the stack
@example(frame=b'{"id":1,"method":"m","params":' + b'{"a":' * 5000 + b"1" + b"}" * 5001)
def test_decode_message_never_raises_on_bytes(frame: bytes) -> None:
    _check(decode_message(frame))


@FUZZ
@given(frame=st.text(max_size=200) | st.text(st.characters(codec=None), max_size=50))
@example(frame="\ud800")
def test_decode_message_never_raises_on_text(frame: str) -> None:
    _check(decode_message(frame))


@FUZZ
@given(envelope=envelopes)
def test_decode_message_classifies_well_formed_json(envelope: dict[str, Any]) -> None:
    message = decode_message(_dumps(envelope))
    _check(message)
    if isinstance(message, IncomingRequest):
        assert message.id == envelope["id"]
        assert isinstance(message.method, str)
    if isinstance(message, IncomingRequest | IncomingNotification):
        params = envelope.get("params")
        if params is None:
            assert message.params is None
        else:
            assert msgspec.json.decode(message.params) == params


@FUZZ
@given(method=st.sampled_from(sorted(METHODS)), params=params_objects | st.just(None))
@example(
    method="process/start",
    params={
        "processId": "p",
        "argv": ["x"],
        "cwd": "/",
        "env": {},
        "tty": False,
        "envPolicy": {"inherit": 5},
    },
)
@example(method="process/read", params={"processId": "p", "waitMs": 10**400})
@example(method="process/write", params={"processId": "p", "chunk": "a=b="})
@example(
    method="process/read",
    params={"processId": 5, "x": [[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]},
)
def test_params_decoder_returns_or_raises_invalid_params(method: str, params: Any) -> None:
    raw = None if params is None else msgspec.Raw(_dumps(params))
    _decode_and_check(method, raw)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_params_decoder_survives_nesting_deeper_than_the_stack(method: str) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    for raw in (deep, b'{"processId":"p","x":' + deep + b"}", b'{"processId":5,"x":' + deep + b"}"):
        _decode_and_check(method, msgspec.Raw(raw))


def _decode_and_check(method: str, raw: msgspec.Raw | None) -> None:
    spec = METHODS[method]
    value: object
    try:
        value = spec.decoder.decode(raw)
    except (RpcError, MalformedParams) as error:
        value = error
    if isinstance(value, MalformedParams):  # a number serde_json cannot read (10**400)
        assert str(value) == "number out of range"
    elif isinstance(value, RpcError):
        assert value.code == INVALID_PARAMS
        assert isinstance(value.message, str)
        assert value.message
    else:
        assert isinstance(value, spec.params)
