"""The memo's file format: data only (typed JSON and Arrow IPC), sealed with the warehouse's key.

Nothing in an entry says which code to run. Frames are Arrow IPC streams; everything else is JSON
with a few tags for the values JSON lacks (dates, times, NaN, tuples, dicts with any keys, NumPy
arrays). Dataclasses are rebuilt from the memoised function's return annotation, never from a
name in the file, and only after the entry's HMAC (keyed by a secret kept inside the warehouse)
and its header (warehouse, state, entry, code version) have been checked: bytes nobody sealed
never reach a parser.

An entry: MAGIC, the 32-byte HMAC-SHA256 of the rest, then the header's length (8 bytes, big
endian), the header JSON, and for each frame its length and its Arrow IPC stream.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import struct
import typing
from datetime import date, datetime

import numpy as np
import pandas as pd

MAGIC = b"copilot-finops memo 1\n"
_LENGTH = struct.Struct(">Q")
_ARRAY_KINDS = "biufUO"  # NumPy arrays of booleans, numbers, strings and Python objects


class _NoFrames(list):
    def append(self, frame) -> None:
        raise TypeError("the memo does not store a frame inside a frame's cell")


class Refused(ValueError):
    """An entry that is torn, tampered with, of another warehouse state, or of a shape this code cannot rebuild."""


# -- values to JSON and frames ------------------------------------------------------------------------------------
def _encode(value, frames: list[pd.DataFrame]):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"$float": repr(value)}
    if value is pd.NaT:
        return {"$nat": True}
    if value is pd.NA:
        return {"$na": True}
    if isinstance(value, pd.Timestamp):
        return {"$timestamp": value.isoformat()}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, list):
        return [_encode(v, frames) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, frames) for v in value]}
    if isinstance(value, dict):
        return {"$dict": [[_encode(k, frames), _encode(v, frames)] for k, v in value.items()]}
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in _ARRAY_KINDS:
        return {"$ndarray": [_encode(v, frames) for v in value.tolist()], "dtype": value.dtype.str}
    if isinstance(value, pd.DataFrame):
        frames.append(value)
        return {"$frame": len(frames) - 1}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"$fields": {f.name: _encode(getattr(value, f.name), frames) for f in dataclasses.fields(value)}}
    raise TypeError(f"the memo cannot store a {type(value).__name__}")


def _decode(tree, hint, frames: list[pd.DataFrame]):
    if isinstance(tree, list):
        return [_decode(v, None, frames) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "$fields" in tree:
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            raise Refused(f"the entry holds fields where the code expects {hint!r}")
        hints = typing.get_type_hints(hint)
        fields = {f.name for f in dataclasses.fields(hint) if f.init}
        if set(tree["$fields"]) != fields:
            raise Refused(f"the entry's fields do not match {hint.__name__}'s")
        return hint(**{name: _decode(v, hints.get(name), frames) for name, v in tree["$fields"].items()})
    if "$frame" in tree:
        return frames[int(tree["$frame"])]
    if "$float" in tree:
        return float(tree["$float"])  # 'nan', 'inf' or '-inf'
    if "$nat" in tree:
        return pd.NaT
    if "$na" in tree:
        return pd.NA
    if "$timestamp" in tree:
        return pd.Timestamp(tree["$timestamp"])
    if "$datetime" in tree:
        return datetime.fromisoformat(tree["$datetime"])
    if "$date" in tree:
        return date.fromisoformat(tree["$date"])
    if "$tuple" in tree:
        return tuple(_decode(v, None, frames) for v in tree["$tuple"])
    if "$dict" in tree:  # (a dict[K, V] hint rebuilds dataclass values)
        value_hint = typing.get_args(hint)[1] if typing.get_origin(hint) is dict and typing.get_args(hint) else None
        return {_decode(k, None, frames): _decode(v, value_hint, frames) for k, v in tree["$dict"]}
    if "$ndarray" in tree:
        dtype = np.dtype(str(tree["dtype"]))
        if dtype.kind not in _ARRAY_KINDS:
            raise Refused(f"array dtype {dtype} is not stored in the memo")
        values = [_decode(v, None, frames) for v in tree["$ndarray"]]
        if dtype.kind == "O":
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out
        return np.array(values, dtype=dtype)
    raise Refused(f"unknown tag in the entry: {sorted(tree)[:3]}")


def _all_dates(column: pd.Series) -> bool:
    """Calendar days (and gaps) only: Arrow's date32 gives back the same Python dates, faster than JSON."""
    present = column.dropna()
    return len(present) > 0 and all(type(v) is date for v in present)


def _frame_to_ipc(frame: pd.DataFrame) -> tuple[bytes, list[str]]:
    """Arrow IPC of a frame, and the columns in it that are typed JSON text: object columns other than
    calendar days (lists, dicts, mixed values), which Arrow would give back as arrays or strings."""
    import pyarrow as pa

    if not all(isinstance(c, str) for c in frame.columns) or frame.columns.has_duplicates:
        raise TypeError("the memo stores frames with unique text column names only")
    json_columns = [c for c in frame.columns if frame[c].dtype == object and not _all_dates(frame[c])]
    out = frame.copy(deep=False)
    for c in json_columns:
        out[c] = pd.Series([json.dumps(_encode(v, _NoFrames())) for v in frame[c]], index=frame.index, dtype=object)
    table = pa.Table.from_pandas(out)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes(), json_columns


def _frame_from_ipc(data: bytes, json_columns: list[str]) -> pd.DataFrame:
    import pyarrow as pa

    frame = pa.ipc.open_stream(data).read_all().to_pandas()
    for c in json_columns:
        cells = np.empty(len(frame), dtype=object)
        cells[:] = [_decode(json.loads(text), None, []) for text in frame[c]]
        frame[c] = pd.Series(cells, index=frame.index, dtype=object)
    return frame


# -- sealed entries -----------------------------------------------------------------------------------------------
def seal(value, key: bytes, header: dict) -> bytes:
    """The entry's bytes for `value`; TypeError when it holds something the memo does not store."""
    frames: list[pd.DataFrame] = []
    tree = _encode(value, frames)
    blobs, described = [], []
    for frame in frames:
        blob, json_columns = _frame_to_ipc(frame)
        blobs.append(blob)
        described.append({"json_columns": json_columns})
    head = json.dumps({**header, "value": tree, "frames": described}, allow_nan=False).encode()
    body = _LENGTH.pack(len(head)) + head + b"".join(_LENGTH.pack(len(b)) + b for b in blobs)
    return MAGIC + hmac.new(key, body, hashlib.sha256).digest() + body


def open_sealed(data: bytes, key: bytes, header: dict, hint=None):
    """The value in an entry, after checking its seal and that its header equals `header`; Refused otherwise.

    `hint` is the value's type as the code declares it (a dataclass is rebuilt from it).
    """
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 32 + _LENGTH.size:
        raise Refused("not a memo entry")
    tag, body = data[len(MAGIC):len(MAGIC) + 32], data[len(MAGIC) + 32:]
    if not hmac.compare_digest(tag, hmac.new(key, body, hashlib.sha256).digest()):
        raise Refused("the entry's seal does not match this warehouse's key (tampered, or another warehouse's)")
    try:
        (length,) = _LENGTH.unpack_from(body, 0)
        stored = json.loads(body[_LENGTH.size:_LENGTH.size + length])
        if any(stored.get(k) != v for k, v in header.items()):
            raise Refused("the entry was written for another warehouse state, entry or code version")
        offset, frames = _LENGTH.size + length, []
        for described in stored["frames"]:
            (size,) = _LENGTH.unpack_from(body, offset)
            frames.append(_frame_from_ipc(body[offset + _LENGTH.size:offset + _LENGTH.size + size],
                                          list(described["json_columns"])))
            offset += _LENGTH.size + size
        return _decode(stored["value"], hint, frames)
    except Refused:
        raise
    except Exception as exc:  # a sealed entry this code cannot read (an older format): recompute it
        raise Refused(f"unreadable entry: {exc!r}") from exc
