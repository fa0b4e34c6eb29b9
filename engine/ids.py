"""Time-ordered identifiers (UUIDv7 layout) so ids sort by creation time."""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= (rand >> 68 & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def new_id(prefix: str) -> str:
    """`prefix_<32 hex>`: e.g. run_0190..., sel_0190..., job_0190..."""
    return f"{prefix}_{uuid7().hex}"
