"""safetensors files with numpy alone: what netdsl's `save_weights` writes and `load_weights`
reads (float32 tensors, little-endian, a JSON header with an optional `__metadata__` of
strings).

The writer is by hand, without the safetensors package, so that the same tensors always give
the same bytes (names sorted, the header padded with spaces to 8 bytes).
"""

import json
import os
import struct
import tempfile

import numpy as np

__all__ = ["save_safetensors", "load_safetensors"]


def save_safetensors(path, tensors, metadata=None):
    """Writes `tensors` (a mapping of names to arrays, stored as float32) to `path`, with the
    string mapping `metadata` in the header. The file is replaced only once the new one is
    complete, as netdsl's `save_weights` does."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        value = np.asarray(tensors[name], dtype=np.float32)
        if not np.all(np.isfinite(value)):
            raise ValueError(f"tensor `{name}` has values that are not finite")
        data = np.ascontiguousarray(value, dtype="<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(value.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".netdsl-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def load_safetensors(path):
    """Reads a safetensors file of float32 tensors: returns `(tensors, metadata)`, the tensors
    as a dict of float32 numpy arrays."""
    with open(path, "rb") as file:
        data = file.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file ({len(data)} bytes)")
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        raise ValueError(f"{path}: the header announces {length} bytes, the file has {len(data) - 8}")
    header = json.loads(data[8 : 8 + length])
    metadata = header.pop("__metadata__", None) or {}
    body = data[8 + length :]
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor `{name}` is {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if end > len(body) or end - start != 4 * int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: tensor `{name}` of shape {shape} does not fit its bytes")
        tensors[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(shape).astype(np.float32)
    return tensors, metadata
