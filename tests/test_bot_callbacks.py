"""Signed, compact callback data (bot.callbacks)."""

from __future__ import annotations

import pytest

from bot.callbacks import (
    ACTIONS,
    MAX_BYTES,
    CallbackData,
    decode,
    encode,
    interaction_key,
    max_arg_bytes,
    short_key,
)

SECRET = "test-secret-not-for-production"
IID = "sel_0190f3a5b7c87d3e9a1b2c3d4e5f6a7b"


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_round_trip_every_action(action: str) -> None:
    data = encode(action, IID, "12", SECRET)
    assert len(data.encode("utf-8")) <= MAX_BYTES
    decoded = decode(data, SECRET)
    assert decoded == CallbackData(action=action, ikey=interaction_key(IID), arg="12")
    assert decoded.matches(IID) and not decoded.matches(IID + "x")


def test_args_helpers_and_empty_arg() -> None:
    decoded = decode(encode("gen", IID, "2.ab3d", SECRET), SECRET)
    assert decoded is not None and decoded.args() == ["2", "ab3d"] and decoded.int_args() is None
    decoded = decode(encode("param", IID, "1.3", SECRET), SECRET)
    assert decoded is not None and decoded.int_args() == [1, 3]
    decoded = decode(encode("confirm", IID, "", SECRET), SECRET)
    assert decoded is not None and decoded.arg == "" and decoded.args() == []
    assert decode(encode("pick", IID, 7, SECRET), SECRET).int_args() == [7]  # type: ignore[union-attr]


def test_longest_action_and_arg_fit_in_64_bytes() -> None:
    for action in ACTIONS:
        room = max_arg_bytes(action)
        assert room >= 25, action  # room for "<panel>.<field>.<value>" and content keys
        data = encode(action, IID, "a" * room, SECRET)
        assert len(data.encode("utf-8")) == MAX_BYTES
        with pytest.raises(ValueError, match="64"):
            encode(action, IID, "a" * (room + 1), SECRET)


def test_long_interaction_ids_do_not_grow_the_data() -> None:
    long_id = "media_" + "f" * 500
    data = encode("choose", long_id, short_key("gc_" + "0" * 32), SECRET)
    assert len(data.encode("utf-8")) <= MAX_BYTES
    assert decode(data, SECRET).matches(long_id)  # type: ignore[union-attr]
    assert len(interaction_key(long_id)) == 8 and interaction_key(long_id) == interaction_key(long_id)
    assert interaction_key("a") != interaction_key("b")


def test_non_ascii_arg_counts_bytes() -> None:
    data = encode("opt", IID, "é😺", SECRET)
    assert decode(data, SECRET).arg == "é😺"  # type: ignore[union-attr]
    room = max_arg_bytes("opt")
    with pytest.raises(ValueError):
        encode("opt", IID, "😺" * (room // 4 + 1), SECRET)  # 4 bytes each


def test_forged_or_tampered_data_is_refused() -> None:
    data = encode("pick", IID, "1", SECRET)
    body, mac = data.rsplit("|", 1)
    assert decode(data, "another-secret") is None
    assert decode(f"{body}|{'a' * len(mac)}", SECRET) is None
    assert decode(data.replace("|pick|", "|skip|"), SECRET) is None
    assert decode(body.replace("|1", "|2") + "|" + mac, SECRET) is None
    other_key = interaction_key("sel_other")
    assert decode(data.replace(interaction_key(IID), other_key), SECRET) is None


@pytest.mark.parametrize(
    "garbage",
    [None, "", "x", "v1", "v1|pick", "v1|pick|abc|1", "v2|pick|abcdefgh|1|abcdefgh", "a|b|c|d|e|f",
     "|" * 10, "v1|explode|abcdefgh|1|abcdefgh", b"\xff\xfe", "é" * 40, 12345],
)  # fmt: skip
def test_garbage_decodes_to_none(garbage: object) -> None:
    assert decode(garbage, SECRET) is None  # type: ignore[arg-type]


def test_encode_refuses_unknown_actions_and_empty_secrets() -> None:
    with pytest.raises(ValueError, match="unknown"):
        encode("explode", IID, "", SECRET)
    with pytest.raises(ValueError, match="secret"):
        encode("pick", IID, "1", "")


def test_bytes_input_decodes() -> None:
    data = encode("hist", IID, "", SECRET)
    assert decode(data.encode("utf-8"), SECRET) == decode(data, SECRET)


def test_keys_are_stable_across_versions() -> None:
    # keyboards already sent carry these: the tokens must never change
    assert interaction_key(IID) == "va75t5um"
    assert short_key("gc_" + "0" * 32) == "dorhe5"
    assert short_key("gc_" + "0" * 32, 8) == "dorhe5kr"
