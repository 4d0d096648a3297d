"""A schema-free view of protobuf bytes, for mutations that keep the file decodable: change one
varint (a dim, a data type, an attribute value), replace or cut one length-delimited payload, drop
or repeat one field, and re-encode with every enclosing length fixed up.

Length-delimited payloads are parsed as nested messages when they decode cleanly, so the walk
reaches a node's attributes and a tensor's dims; a payload that only happens to decode (a name, raw
weight bytes) is just one more place to mutate. Untouched payloads keep their original bytes, so
parsing and re-encoding an unmutated file gives the file back."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

VARINT, I64, LEN, I32 = 0, 1, 2, 5
MAX_DEPTH = 8
# ONNX messages number their fields below 30; a payload with larger field numbers is data.
MAX_FIELD = 32


@dataclass
class Field:
    number: int
    wire_type: int
    # VARINT: the int; I64/I32: 8 or 4 bytes; LEN: the payload bytes.
    value: int | bytes
    # For LEN payloads that decode as a message.
    children: list[Field] | None = None
    dirty: bool = False
    # Offsets in the original file: the whole field, and its value (varint or payload).
    start: int = 0
    value_start: int = 0
    end: int = 0


@dataclass
class Message:
    fields: list[Field] = field(default_factory=list)


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def parse(buf: bytes, base: int = 0, depth: int = 0) -> list[Field]:
    """Fields of one message; raises ValueError when `buf` is not a message."""
    fields = []
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0 or number > MAX_FIELD:
            raise ValueError("field number")
        value_start = pos
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos)
            f = Field(number, wire_type, value)
        elif wire_type == I64 or wire_type == I32:
            n = 8 if wire_type == I64 else 4
            if pos + n > len(buf):
                raise ValueError("short fixed")
            f = Field(number, wire_type, buf[pos:pos + n])
            pos += n
        elif wire_type == LEN:
            length, pos = read_varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("short payload")
            payload = buf[pos:pos + length]
            value_start = pos
            children = None
            if depth < MAX_DEPTH and payload:
                try:
                    children = parse(payload, base + pos, depth + 1)
                except ValueError:
                    children = None
            f = Field(number, wire_type, payload, children)
            pos += length
        else:
            raise ValueError("wire type")
        f.start, f.value_start, f.end = base + start, base + value_start, base + pos
        fields.append(f)
    return fields


def encode(fields: list[Field]) -> bytes:
    out = bytearray()
    for f in fields:
        out += encode_varint(f.number << 3 | f.wire_type)
        if f.wire_type == VARINT:
            out += encode_varint(int(f.value))
        elif f.wire_type == LEN:
            payload = encode(f.children) if (f.dirty and f.children is not None) else f.value
            out += encode_varint(len(payload)) + payload
        else:
            out += f.value
    return bytes(out)


def walk(fields: list[Field], path: tuple[Field, ...] = ()):
    """Every field with the chain of LEN fields that contain it."""
    for f in fields:
        yield f, path
        if f.children is not None:
            yield from walk(f.children, path + (f,))


INTERESTING = [0, 1, 2, 3, 7, 8, 16, 255, 256, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40,
               2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64 - 2]


def mutate(buf: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One structure-keeping mutation of protobuf bytes, and what it did."""
    top = parse(buf)
    everything = list(walk(top))
    f, path = rng.choice(everything)
    for parent in path:
        parent.dirty = True
    where = "/".join(str(p.number) for p in path + (f,))
    siblings = path[-1].children if path else top
    kind = rng.random()
    if kind < 0.12:
        siblings.remove(f)
        what = f"dropped field {where}"
    elif kind < 0.22:
        siblings.insert(siblings.index(f), Field(f.number, f.wire_type, f.value, f.children))
        what = f"repeated field {where}"
    elif f.wire_type == VARINT:
        old = int(f.value)
        nearby = [old + 1, max(old - 1, 0), old * 3, old ^ (1 << rng.randrange(64)),
                  rng.getrandbits(rng.choice([8, 16, 32, 64]))]
        new = rng.choice(INTERESTING + nearby)
        f.value = new
        what = f"varint {where} {old} -> {new}"
    elif f.wire_type == LEN:
        payload = bytes(f.value)
        choice = rng.randrange(5)
        f.children = None
        f.dirty = False
        if choice == 0 and payload:
            cut = rng.randrange(len(payload))
            f.value = payload[:cut]
            what = f"payload {where} cut to {cut} of {len(payload)} bytes"
        elif choice == 1:
            extra = rng.randbytes(rng.choice([1, 3, 8, 64]))
            f.value = payload + extra
            what = f"payload {where} grew by {len(extra)} bytes"
        elif choice == 2 and payload:
            at = rng.randrange(len(payload))
            n = min(rng.choice([1, 2, 4, 8]), len(payload) - at)
            f.value = payload[:at] + rng.randbytes(n) + payload[at + n:]
            what = f"payload {where} overwrote {n} bytes at {at}"
        elif choice == 3:
            f.value = b""
            what = f"payload {where} emptied"
        else:
            # NaN, infinities and huge values in whatever floats the payload holds.
            pattern = rng.choice([b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f", b"\x00\x00\x80\xff",
                                  b"\xff\xff\x7f\x7f"])
            reps = max(1, len(payload) // 4)
            f.value = (pattern * reps)[: max(len(payload), 4)]
            what = f"payload {where} filled with {pattern.hex()}"
    else:
        n = len(f.value)
        f.value = rng.randbytes(n)
        what = f"fixed {where} randomized"
    return encode(top), what


def varint_offsets(buf: bytes) -> list[int]:
    """Where the varint values of the file are: for byte-level damage that breaks the encoding."""
    try:
        return [f.value_start for f, _ in walk(parse(buf)) if f.wire_type == VARINT]
    except ValueError:
        return []


def payload_ranges(buf: bytes, min_len: int = 16) -> list[tuple[int, int]]:
    """Where long payloads (tensors, mostly) are, as (start, end) offsets."""
    try:
        return [(f.value_start, f.end) for f, _ in walk(parse(buf))
                if f.wire_type == LEN and f.children is None and f.end - f.value_start >= min_len]
    except ValueError:
        return []
