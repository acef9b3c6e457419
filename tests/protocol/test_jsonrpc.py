"""The envelope: ``decode_message`` / ``classify`` for every case of spec §1.4 and §1.6.

The reference's message type is an untagged union tried in the order Request,
Notification, Response, Error; the surprises (a float id makes a notification)
are part of the contract.
"""

from __future__ import annotations

import msgspec
import pytest

from execsrv.protocol import jsonrpc
from execsrv.protocol.jsonrpc import (
    ErrorObject,
    IncomingError,
    IncomingNotification,
    IncomingRequest,
    IncomingResponse,
    MalformedMessage,
    decode_message,
    parse_error,
)

NO_VARIANT = "data did not match any variant of untagged enum JSONRPCMessage"


def raw_text(raw: msgspec.Raw | None) -> bytes | None:
    return None if raw is None else bytes(raw)


@pytest.mark.parametrize(
    ("frame", "request_id"),
    [
        (b'{"id":1,"method":"process/read"}', 1),
        (b'{"id":-5,"method":"process/read"}', -5),
        (b'{"id":"abc","method":"process/read"}', "abc"),
        (b'{"id":"","method":"process/read"}', ""),
        (b'{"id":9223372036854775807,"method":"m"}', 2**63 - 1),
        (b'{"id":-9223372036854775808,"method":"m"}', -(2**63)),
        (b'{"id":0,"method":"m"}', 0),
    ],
)
def test_request_ids_are_i64_or_string_and_echoed(frame: bytes, request_id: object) -> None:
    message = decode_message(frame)
    assert isinstance(message, IncomingRequest)
    assert message.id == request_id
    assert type(message.id) is type(request_id)


@pytest.mark.parametrize(
    "id_json",
    [
        b"7.5",
        b"null",
        b"9223372036854775808",
        b"-9223372036854775809",
        b"true",
        b"false",
        b"[1]",
        b'{"a":1}',
        b"1e3",
    ],
)
def test_request_with_unusable_id_falls_through_to_notification(id_json: bytes) -> None:
    message = decode_message(b'{"id":' + id_json + b',"method":"process/read","params":{}}')
    assert isinstance(message, IncomingNotification)
    assert message.method == "process/read"
    assert raw_text(message.params) == b"{}"


@pytest.mark.parametrize(
    "id_json", [b"1e400", b"-1e400", b"1" + b"0" * 400, b"9" * 5000, b"2" + b"0" * 308]
)
def test_id_beyond_f64_is_a_number_out_of_range(id_json: bytes) -> None:
    """serde_json cannot read the message at all, so it is not even a notification."""
    message = decode_message(b'{"id":' + id_json + b',"method":"process/read"}')
    assert message == MalformedMessage("number out of range")


def test_number_beyond_f64_in_method_is_out_of_range() -> None:
    assert decode_message(b'{"method":1e400}') == MalformedMessage("number out of range")


# serde's derived structs reject a repeated field; the untagged union then tries the
# next shape, for which the member may be unknown (ignored) or repeated too.
@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b'{"id":1,"method":"a","method":"b"}', MalformedMessage(NO_VARIANT)),
        (b'{"id":1,"method":"m","params":{},"params":{}}', MalformedMessage(NO_VARIANT)),
        (b'{"method":"initialized","params":1,"params":2}', MalformedMessage(NO_VARIANT)),
        (b'{"id":1,"result":1,"result":2}', MalformedMessage(NO_VARIANT)),
        (b'{"id":1,"id":1,"result":1}', MalformedMessage(NO_VARIANT)),
        (
            b'{"id":1,"error":{"code":1,"message":"x"},"error":{"code":2,"message":"y"}}',
            MalformedMessage(NO_VARIANT),
        ),
        # not a request any more, but a notification (which has no id)
        (b'{"id":1,"id":2,"method":"m"}', IncomingNotification("m", None)),
        (b'{"id":1,"method":"m","trace":{},"trace":{}}', IncomingNotification("m", None)),
        (b'{"id":1,"\\u0069d":2,"method":"m"}', IncomingNotification("m", None)),  # escaped
        (b'{ "id" : 1 , "id" : 1 , "method" : "m" }', IncomingNotification("m", None)),
        # members no shape knows may repeat; so may keys inside params
        (b'{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"m"}', IncomingRequest(1, "m", None)),
        (b'{"id":1,"method":"m","x":1,"x":{"id":1,"id":2}}', IncomingRequest(1, "m", None)),
    ],
)
def test_repeated_envelope_members(frame: bytes, expected: object) -> None:
    assert decode_message(frame) == expected
    assert decode_message(frame.decode()) == expected


@pytest.mark.parametrize(
    "frame",
    [
        b'{"id":1,"method":"http/request","params":{"method":"GET","url":"u"}}',
        b'{"id":1,"method":"m","params":{"id":1,"params":{"id":2,"id":3}}}',
        b'{"id":1,"method":"m","params":["id","method","\\u0069d"]}',
        b'{"id":"method","method":"params","params":"id"}',
    ],
)
def test_member_names_inside_values_are_not_repeats(frame: bytes) -> None:
    message = decode_message(frame)
    assert isinstance(message, IncomingRequest)
    assert message.params is not None


@pytest.mark.parametrize(
    ("params_json", "expected"),
    [
        (None, None),  # absent
        (b"null", None),
        (b"{}", b"{}"),
        (b"[]", b"[]"),
        (b"5", b"5"),
        (b'{"processId":"p"}', b'{"processId":"p"}'),
        (b'{ "a" : [1, 2] }', b'{ "a" : [1, 2] }'),  # kept raw, verbatim
    ],
)
def test_params_absent_or_null_is_none_else_raw(
    params_json: bytes | None, expected: bytes | None
) -> None:
    tail = b"" if params_json is None else b',"params":' + params_json
    request = decode_message(b'{"id":1,"method":"m"' + tail + b"}")
    notification = decode_message(b'{"method":"m"' + tail + b"}")
    assert isinstance(request, IncomingRequest)
    assert isinstance(notification, IncomingNotification)
    assert raw_text(request.params) == expected
    assert raw_text(notification.params) == expected


def test_jsonrpc_members_are_ignored_and_trace_kept_raw() -> None:
    """``trace`` is kept undecoded, for a server that traces (execsrv.server.tracing)."""
    message = decode_message(
        b'{"jsonrpc":"2.0","id":3,"method":"m","trace":{"traceparent":"x"},"extra":[1]}'
    )
    assert isinstance(message, IncomingRequest)
    assert (message.id, message.method, message.params) == (3, "m", None)
    assert message.trace is not None
    assert bytes(message.trace) == b'{"traceparent":"x"}'
    assert decode_message(b'{"id":3,"method":"m","trace":null}') == IncomingRequest(3, "m", None)
    assert decode_message(b'{"jsonrpc":"1.0","method":"initialized"}') == IncomingNotification(
        "initialized", None
    )


def test_bytes_and_str_frames_decode_the_same() -> None:
    text = '{"id":"é","method":"m"}'
    assert decode_message(text) == decode_message(text.encode()) == IncomingRequest("é", "m", None)


def test_request_wins_over_response_when_both_fit() -> None:
    """Request is tried first, so a message with method *and* result is a request."""
    message = decode_message(b'{"id":1,"method":"m","result":{},"error":{"code":1,"message":"x"}}')
    assert isinstance(message, IncomingRequest)


def test_notification_wins_over_response_when_id_is_unusable() -> None:
    message = decode_message(b'{"id":null,"method":"m","result":1}')
    assert isinstance(message, IncomingNotification)


@pytest.mark.parametrize(
    ("frame", "request_id", "result"),
    [
        (b'{"id":1,"result":{"sessionId":"s"}}', 1, b'{"sessionId":"s"}'),
        (b'{"id":"x","result":null}', "x", b"null"),
        (b'{"result":[],"id":-2}', -2, b"[]"),
    ],
)
def test_response(frame: bytes, request_id: object, result: bytes) -> None:
    message = decode_message(frame)
    assert isinstance(message, IncomingResponse)
    assert message.id == request_id
    assert bytes(message.result) == result


def test_error_response() -> None:
    message = decode_message(b'{"error":{"code":-32600,"message":"nope"},"id":4}')
    assert message == IncomingError(4, ErrorObject(code=-32600, message="nope"))
    with_data = decode_message(b'{"error":{"code":1,"message":"m","data":{"k":1}},"id":"a"}')
    assert isinstance(with_data, IncomingError)
    assert with_data.error.data == {"k": 1}


@pytest.mark.parametrize(
    "frame",
    [
        b"[]",
        b'[{"id":1,"method":"m"}]',  # no batches in 0.130.0
        b'{"foo":1}',
        b"{}",
        b"1",
        b'"text"',
        b"null",
        b"true",
        b'{"id":1}',  # neither method, result nor error
        b'{"id":1,"method":5}',  # method must be a string
        b'{"method":null}',
        b'{"method":["m"]}',
        b'{"id":1.5,"result":1}',  # response ids are i64 or string too
        b'{"id":null,"result":1}',
        b'{"result":1}',
        b'{"id":1,"error":"boom"}',
        b'{"id":1,"error":{"code":"x","message":"m"}}',
        b'{"id":1,"error":{"code":1}}',
        b'{"id":1,"error":{"message":"m"}}',
        b'{"id":1,"error":{"code":1.5,"message":"m"}}',
        b'{"id":true,"error":{"code":1,"message":"m"}}',
    ],
)
def test_json_matching_no_variant_is_malformed(frame: bytes) -> None:
    message = decode_message(frame)
    assert isinstance(message, MalformedMessage)
    assert message.detail == NO_VARIANT


@pytest.mark.parametrize(
    ("frame", "detail_0171"),
    [
        (b"[]", "expected a JSON-RPC object"),
        (b'[{"id":1,"method":"m"}]', "expected a JSON-RPC object"),
        (b"null", "expected a JSON-RPC object"),
        (b'"text"', "expected a JSON-RPC object"),
        (b"{}", "missing field `error`"),
        (b'{"id":1}', "missing field `error`"),
        (b'{"id":1,"method":5}', "invalid type: number, expected a string"),
        (b'{"method":null}', "invalid type: null, expected a string"),
        (b'{"id":1,"error":"boom"}', None),  # not measured: 0.130's text
        (b'{"id":1,"result":1,"result":2}', None),
    ],
)
def test_0171_texts_for_frames_matching_no_variant(frame: bytes, detail_0171: str | None) -> None:
    """codex-exec-server-0.171.md §2.1; a 0.171 session's connection uses them."""
    assert decode_message(frame) == MalformedMessage(NO_VARIANT, detail_0171)


@pytest.mark.parametrize(
    "frame",
    [
        b"not json",
        b"",
        b"   ",
        b"{",
        b'{"id":1,"method":"m"',
        b'{"id":1,"method":"m"} {"id":2,"method":"m"}',  # two objects in one frame
        b'{"id":1,"method":"m"}\n{"id":2,"method":"m"}',
        b"\xff\xfe",
        b'{"method":"\xff"}',  # invalid UTF-8
        rb'{"method":"\ud800"}',  # lone surrogate escape
        b"{'id':1}",
        b'{"id":1,}',
        "\ud800",  # a str frame that cannot even be encoded
        '{"method":"\udc00"}',
    ],
)
def test_unparseable_frame_is_malformed_with_a_detail(frame: bytes | str) -> None:
    message = decode_message(frame)
    assert isinstance(message, MalformedMessage)
    assert message.detail
    assert message.detail != NO_VARIANT


@pytest.mark.parametrize(
    "frame",
    [
        b'{"id":1,"method":"process/read","params":{"processId":"\xff"}}',
        b'{"id":1,"method":"m","params":{"unknown":"\xc3"}}',
        b'{"id":1,"result":{"x":"\xed\xa0\x80"}}',  # UTF-8-encoded surrogate
    ],
)
def test_invalid_utf8_inside_kept_raw_values_is_malformed(frame: bytes) -> None:
    """msgspec keeps params/result raw without validating them; the message must not pass."""
    message = decode_message(frame)
    assert isinstance(message, MalformedMessage)
    assert "invalid unicode" in message.detail


def test_non_ascii_utf8_is_fine() -> None:
    message = decode_message('{"id":1,"method":"m","params":{"k":"héllo ✓ 😀"}}'.encode())
    assert isinstance(message, IncomingRequest)
    assert msgspec.json.decode(message.params) == {"k": "héllo ✓ 😀"}


def test_classify_is_exposed_for_prebuilt_envelopes() -> None:
    envelope = msgspec.json.decode(b'{"id":2,"method":"m"}', type=jsonrpc._Envelope)
    assert jsonrpc.classify(envelope) == IncomingRequest(2, "m", None)


def test_parse_error_reply_shape() -> None:
    reply = parse_error("boom", "JSON-RPC message from exec-server stdio")
    assert msgspec.json.encode(reply) == (
        b'{"error":{"code":-32600,"message":"failed to parse JSON-RPC message from '
        b'exec-server stdio: boom"},"id":-1}'
    )


@pytest.mark.parametrize(
    ("message", "encoded"),
    [
        (jsonrpc.Request(id=1, method="m"), b'{"id":1,"method":"m"}'),
        (jsonrpc.Request(id="a", method="m", params={}), b'{"id":"a","method":"m","params":{}}'),
        (jsonrpc.Notification(method="initialized"), b'{"method":"initialized"}'),
        (jsonrpc.Response(id=1, result=None), b'{"id":1,"result":null}'),
        (
            jsonrpc.ErrorResponse(error=ErrorObject(code=-32601, message="x"), id=7),
            b'{"error":{"code":-32601,"message":"x"},"id":7}',
        ),
    ],
)
def test_outgoing_envelopes_have_no_jsonrpc_member_and_no_null_data(
    message: object, encoded: bytes
) -> None:
    assert msgspec.json.encode(message) == encoded
