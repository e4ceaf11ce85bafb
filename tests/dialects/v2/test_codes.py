"""Protocol v2's code tables (app/dialects/v2/codes.py) against the facts of
docs/protocol-v2.md §5.1, §5.3, §5.2."""
from __future__ import annotations

from app.dialects.v2 import codes
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.codes import Close, ErrorCode
from app.dialects.v2.pushes import PreparedPush


def test_the_close_code_tells_the_client_whether_to_reconnect() -> None:
    closes = {name: value for name, value in vars(codes).items() if isinstance(value, Close)}
    assert len(closes) == 21
    terminal = {name for name, close in closes.items() if not close.reconnect}
    assert terminal == {"INVALID_TOKEN", "BAD_REQUEST", "STALE", "FORCE_DISCONNECT", "CONNECTION_LIMIT",
                        "CHANNEL_LIMIT", "INAPPROPRIATE_PROTOCOL", "PERMISSION_DENIED", "NOT_AVAILABLE",
                        "TOO_MANY_ERRORS"}
    assert all(3500 <= closes[name].code < 4000 for name in terminal)
    assert all(len(close.reason.encode()) < 32 for close in closes.values())  # fits any close frame
    assert [Close(code, "app").reconnect for code in (4000, 4499, 4500, 4999, 5000)] == [True, True, False, False, True]
    assert (codes.NO_PONG.code, codes.SLOW.code, codes.BAD_REQUEST.code) == (3012, 3008, 3501)


def test_every_error_code_has_its_message() -> None:
    assert set(codes.ERROR_MESSAGES) == set(ErrorCode)
    assert [int(c) for c in ErrorCode] == list(range(100, 113))
    assert codes.ERROR_MESSAGES[ErrorCode.NOT_AVAILABLE] == "not available"
    assert codes.TEMPORARY_ERRORS == {ErrorCode.INTERNAL, ErrorCode.TOO_MANY_REQUESTS}


def test_unsubscribe_codes_below_2500_are_terminal() -> None:
    assert [int(c) for c in codes.UnsubscribeCode] == [2000, 2500, 2501]
    assert set(codes.UNSUBSCRIBE_REASONS) == set(codes.UnsubscribeCode)


def test_a_push_with_binary_data_is_a_close_for_json_clients() -> None:
    push = PreparedPush(pb.Reply(push=pb.Push(channel="c", message=pb.Message(data=b"\x00bin"))))
    assert push.json == codes.INAPPROPRIATE_PROTOCOL and push.json.reconnect is False  # type: ignore[union-attr]
    assert push.protobuf.endswith(b"\x00bin")
