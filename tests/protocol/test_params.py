"""ParamsDecoder: serde's -32602 wording for every kind of bad params (spec §1.4, §3)."""

from __future__ import annotations

import msgspec
import pytest

from execsrv.protocol import process as p
from execsrv.protocol.errors import INVALID_PARAMS, MalformedParams, RpcError
from execsrv.protocol.methods import METHODS
from execsrv.protocol.params import ParamsDecoder
from execsrv.protocol.session import InitializeParams

START = b'"processId":"p","argv":["x"],"cwd":"/","env":{},"tty":false'
POLICY = b'"ignoreDefaultExcludes":false,"exclude":[],"set":{},"includeOnly":[]'


def decode(method: str, params: bytes | None) -> object:
    return METHODS[method].decoder.decode(None if params is None else msgspec.Raw(params))


def error_of(method: str, params: bytes | None) -> str:
    with pytest.raises(RpcError) as caught:
        decode(method, params)
    assert caught.value.code == INVALID_PARAMS
    return caught.value.message


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        # null or absent params for a struct with required fields
        ("initialize", None, "invalid type: null, expected struct InitializeParams"),
        ("process/read", None, "invalid type: null, expected struct ReadParams"),
        ("process/start", None, "invalid type: null, expected struct ExecParams"),
        # arrays: serde tries a positional struct
        ("process/read", b"[]", "invalid length 0, expected struct ReadParams with 4 elements"),
        (
            "initialize",
            b"[]",
            "invalid length 0, expected struct InitializeParams with 2 elements",
        ),
        ("process/read", b"[1,2]", "invalid length 2, expected struct ReadParams with 4 elements"),
        # scalars at the top
        ("initialize", b"5", "invalid type: integer `5`, expected struct InitializeParams"),
        ("initialize", b'"x"', 'invalid type: string "x", expected struct InitializeParams'),
        ("initialize", b"true", "invalid type: boolean `true`, expected struct InitializeParams"),
        (
            "initialize",
            b"1.5",
            "invalid type: floating point `1.5`, expected struct InitializeParams",
        ),
        # missing and mistyped fields
        ("initialize", b"{}", "missing field `clientName`"),
        ("initialize", b'{"clientName":5}', "invalid type: integer `5`, expected a string"),
        ("initialize", b'{"clientName":null}', "invalid type: null, expected a string"),
        ("initialize", b'{"clientName":[]}', "invalid type: sequence, expected a string"),
        ("initialize", b'{"clientName":{}}', "invalid type: map, expected a string"),
        (
            "initialize",
            b'{"clientName":"a","resumeSessionId":5}',
            "invalid type: integer `5`, expected a string",
        ),
        ("process/terminate", b"{}", "missing field `processId`"),
        ("process/read", b'{"processId":1}', "invalid type: integer `1`, expected a string"),
        # unsigned integers
        (
            "process/read",
            b'{"processId":"p","afterSeq":-1}',
            "invalid value: integer `-1`, expected u64",
        ),
        (
            "process/read",
            b'{"processId":"p","maxBytes":-3}',
            "invalid value: integer `-3`, expected usize",
        ),
        (
            "process/read",
            b'{"processId":"p","waitMs":"x"}',
            'invalid type: string "x", expected u64',
        ),
        (
            "process/read",
            b'{"processId":"p","afterSeq":1.5}',
            "invalid type: floating point `1.5`, expected u64",
        ),
        (
            "process/read",
            b'{"processId":"p","waitMs":true}',
            "invalid type: boolean `true`, expected u64",
        ),
        # base64 chunks, with the base64 crate's wording
        ("process/write", b'{"processId":"p","chunk":"!!!!"}', "Invalid symbol 33, offset 0."),
        ("process/write", b'{"processId":"p","chunk":"aG!k"}', "Invalid symbol 33, offset 2."),
        ("process/write", b'{"processId":"p","chunk":"a"}', "Invalid input length: 1"),
        (
            "process/write",
            b'{"processId":"p","chunk":5}',
            "invalid type: integer `5`, expected a string",
        ),
        ("process/write", b'{"processId":"p"}', "missing field `chunk`"),
        # nested: process/start and its envPolicy
        ("process/start", b'{"processId":"p"}', "missing field `argv`"),
        (
            "process/start",
            b"{" + START.replace(b'["x"]', b"[1]") + b"}",
            "invalid type: integer `1`, expected a string",
        ),
        (
            "process/start",
            b"{" + START.replace(b'"argv":["x"]', b'"argv":"x"') + b"}",
            'invalid type: string "x", expected a sequence',
        ),
        (
            "process/start",
            b"{" + START.replace(b"{}", b'{"A":1}') + b"}",
            "invalid type: integer `1`, expected a string",
        ),
        (
            "process/start",
            b"{" + START.replace(b"{}", b"[]") + b"}",
            "invalid type: sequence, expected a map",
        ),
        (
            "process/start",
            b"{" + START.replace(b"false", b'"yes"') + b"}",
            'invalid type: string "yes", expected a boolean',
        ),
        (
            "process/start",
            b"{" + START + b',"pipeStdin":null}',
            "invalid type: null, expected a boolean",
        ),
        (
            "process/start",
            b"{" + START + b',"envPolicy":{"inherit":"all"}}',
            "missing field `ignoreDefaultExcludes`",
        ),
        (
            "process/start",
            b"{" + START + b',"envPolicy":{"inherit":"bogus",' + POLICY + b"}}",
            "unknown variant `bogus`, expected one of `core`, `all`, `none`",
        ),
        (
            "process/start",
            b"{"
            + START
            + b',"envPolicy":{"inherit":"all",'
            + POLICY.replace(b'"exclude":[]', b'"exclude":[7]')
            + b"}}",
            "invalid type: integer `7`, expected a string",
        ),
        (
            "process/start",
            b"{" + START + b',"envPolicy":{"inherit":5,' + POLICY + b"}}",
            "invalid type: integer `5`, expected string or map",
        ),
        (
            "process/start",
            b"{" + START + b',"timeoutMs":-1}',
            "invalid value: integer `-1`, expected u64",
        ),
        # extensions
        (
            "process/signal",
            b'{"processId":"p","signal":"bogus"}',
            "unknown variant `bogus`, expected one of `interrupt`, `terminate`, `kill`, "
            "`hangup`, `quit`, `user1`, `user2`",
        ),
        (
            "process/resize",
            b'{"processId":"p","rows":0,"cols":5}',
            "invalid value: integer `0`, expected u16",
        ),
        (
            "process/resize",
            b'{"processId":"p","rows":70000,"cols":5}',
            "invalid value: integer `70000`, expected u16",
        ),
        ("process/list", b"5", "invalid type: integer `5`, expected struct ListParams"),
    ],
)
def test_serde_messages(method: str, params: bytes | None, message: str) -> None:
    assert error_of(method, params) == message


def test_unknown_fields_are_ignored() -> None:
    params = decode(
        "process/start", b"{" + START + b',"sandbox":{"x":1},"unknownField":[1],"managedNetwork":1}'
    )
    assert isinstance(params, p.ExecParams)
    assert params.argv == ["x"]


def test_optional_fields_default_and_accept_null() -> None:
    read = decode(
        "process/read", b'{"processId":"p","afterSeq":null,"maxBytes":null,"waitMs":null}'
    )
    assert read == p.ReadParams(process_id="p")
    start = decode("process/start", b"{" + START + b"}")
    assert isinstance(start, p.ExecParams)
    assert start.pipe_stdin is False
    assert start.arg0 is None
    assert start.env_policy is None
    init = decode("initialize", b'{"clientName":"","resumeSessionId":null}')
    assert init == InitializeParams(client_name="", resume_session_id=None)


def test_empty_argv_decodes_the_handler_refuses_it() -> None:
    """``argv must not be empty`` is the handler's -32602, not the decoder's."""
    params = decode("process/start", b"{" + START.replace(b'["x"]', b"[]") + b"}")
    assert isinstance(params, p.ExecParams)
    assert params.argv == []


def test_all_optional_struct_accepts_null_and_empty_object() -> None:
    assert decode("process/list", None) == p.ListParams()
    assert decode("process/list", b"{}") == p.ListParams()
    assert decode("process/list", b'{"anything":1}') == p.ListParams()


def test_base64_chunk_decodes_to_bytes() -> None:
    params = decode("process/write", b'{"processId":"p","chunk":"aGkK"}')
    assert params == p.WriteParams(process_id="p", chunk=b"hi\n")
    empty = decode("process/write", b'{"processId":"p","chunk":""}')
    assert empty == p.WriteParams(process_id="p", chunk=b"")


def test_large_unsigned_values_decode() -> None:
    params = decode("process/read", b'{"processId":"p","afterSeq":18446744073709551615}')
    assert isinstance(params, p.ReadParams)
    assert params.after_seq == 2**64 - 1


# serde_json reads an integer outside i64..u64 as a float: for a u64 field that is
# "invalid type: floating point", printed by ryu (no "+" in the exponent).
@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            b'{"processId":"p","afterSeq":18446744073709551616}',
            "invalid type: floating point `1.8446744073709552e+19`, expected u64",
        ),
        (
            b'{"processId":"p","waitMs":100000000000000000000000000000}',
            "invalid type: floating point `1e+29`, expected u64",
        ),
        (
            b'{"processId":"p","maxBytes":-9223372036854775809}',
            "invalid type: floating point `-9.223372036854776e+18`, expected usize",
        ),
        (
            b'{"processId":18446744073709551616}',
            "invalid type: floating point `1.8446744073709552e+19`, expected a string",
        ),
        (
            b'{"processId":9223372036854775808}',
            "invalid type: integer `9223372036854775808`, expected a string",
        ),
        (
            b'{"processId":"p","afterSeq":1e16}',
            "invalid type: floating point `1e+16`, expected u64",
        ),
    ],
)
def test_integers_beyond_u64_are_floats_as_in_serde_json(params: bytes, message: str) -> None:
    assert error_of("process/read", params) == message


def test_u64_beyond_range_in_a_u16_field() -> None:
    params = b'{"processId":"p","rows":18446744073709551616,"cols":1}'
    assert error_of("process/resize", params) == (
        "invalid type: floating point `1.8446744073709552e+19`, expected u16"
    )


@pytest.mark.parametrize(
    "params",
    [
        b'{"processId":"p","waitMs":1e400}',
        b'{"processId":"p","waitMs":-1e400}',
        b'{"processId":"p","afterSeq":' + b"9" * 5000 + b"}",
        b'{"processId":"p","afterSeq":' + b"9" * 400 + b"}",  # an int msgspec reads, serde cannot
        b'{"processId":1e400}',
        b'{"afterSeq":1e400}',  # beside a missing field: the number wins, as in serde_json
        b'{"processId":5,"other":[1,{"x":' + b"1" * 400 + b"}]}",
    ],
)
def test_numbers_beyond_f64_make_the_message_malformed(params: bytes) -> None:
    """serde_json cannot read them at all: the reference fails the whole message."""
    with pytest.raises(MalformedParams) as caught:
        decode("process/read", params)
    assert str(caught.value) == "number out of range"


def test_decoder_for_a_standalone_type() -> None:
    decoder = ParamsDecoder(p.TerminateParams)
    assert decoder.type is p.TerminateParams
    assert decoder.decode(msgspec.Raw(b'{"processId":"x"}')) == p.TerminateParams(process_id="x")
    with pytest.raises(RpcError, match="expected struct TerminateParams"):
        decoder.decode(None)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_answers_null_and_array_with_32602_or_a_value(method: str) -> None:
    for params in (None, b"[]", b"null", b"0", b'""'):
        try:
            decode(method, params)
        except RpcError as error:
            assert (error.code, bool(error.message)) == (INVALID_PARAMS, True)  # noqa: PT017
