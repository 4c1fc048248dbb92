"""Checkpoints: `save` and `load` for state_dicts and any nesting of dicts, lists and tuples of
tensors, NumPy arrays, numbers, strings and None (a model's or an optimizer's state).

The file is a NumPy `.npz` archive: one array per tensor, plus a JSON index of the structure.
Loading reads arrays and JSON only (`allow_pickle=False`), so a checkpoint can never run code.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import IO, Any

import numpy as np

from backprop.device import Device
from backprop.device import device as resolve_device
from backprop.tensor import Tensor

FORMAT = "backprop-checkpoint"
VERSION = 1
INDEX_KEY = "__backprop_index__"

PathOrFile = str | os.PathLike | IO[bytes]


def save(obj: Any, f: PathOrFile) -> None:
    """Writes `obj` (e.g. `model.state_dict()` or `{"model": ..., "optimizer": ...}`) to the
    path or binary file `f`, exactly at that path (no suffix is added)."""
    arrays: dict[str, np.ndarray] = {}
    root = _encode(obj, arrays, {}, "obj")
    index = json.dumps({"format": FORMAT, "version": VERSION, "root": root})
    arrays[INDEX_KEY] = np.frombuffer(index.encode("utf-8"), dtype=np.uint8)
    if hasattr(f, "write"):
        np.savez(f, **arrays)
        return
    with open(f, "wb") as file:
        np.savez(file, **arrays)


def load(f: PathOrFile, device: Device | str | None = None) -> Any:
    """Reads a checkpoint written by `save`, with every tensor on `device` (the default device
    when None), whatever device it was saved from."""
    target = resolve_device(device)
    if not hasattr(f, "read") and not os.path.isfile(f):
        raise FileNotFoundError(f"load: no checkpoint file at {os.fspath(f)!r}")
    name = str(getattr(f, "name", "<file>")) if hasattr(f, "read") else os.fspath(f)
    try:
        index, arrays = _read(f)
    except (ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise ValueError(f"load: {name!r} is not a backprop checkpoint ({error})") from None
    return _decode(index["root"], arrays, target, {})


def _read(f: PathOrFile) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON index and the arrays of a checkpoint; ValueError for anything else."""
    start = f.tell() if hasattr(f, "read") else None
    if not zipfile.is_zipfile(f):
        raise ValueError("it is not an .npz archive")
    if start is not None:
        f.seek(start)
    with np.load(f, allow_pickle=False) as archive:
        if INDEX_KEY not in archive.files:
            raise ValueError("it is an .npz archive without a backprop index")
        index = json.loads(archive[INDEX_KEY].tobytes().decode("utf-8"))
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise ValueError("its index is not a backprop checkpoint index")
        if index.get("version") != VERSION:
            raise ValueError(f"it has format version {index.get('version')}, not {VERSION}")
        arrays = {key: archive[key] for key in archive.files if key != INDEX_KEY}
    return index, arrays


def _encode(obj: Any, arrays: dict[str, np.ndarray], seen: dict[int, str], where: str) -> Any:
    """The JSON form of `obj`; tensors and arrays go into `arrays`, each object once."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (Tensor, np.ndarray)):
        kind = "tensor" if isinstance(obj, Tensor) else "ndarray"
        if id(obj) not in seen:
            seen[id(obj)] = f"array_{len(seen)}"
            arrays[seen[id(obj)]] = obj.numpy() if isinstance(obj, Tensor) else obj
        entry = {"type": kind, "key": seen[id(obj)]}
        if isinstance(obj, Tensor) and obj.requires_grad:
            entry["requires_grad"] = True
        return entry
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if key is not None and not isinstance(key, (bool, int, float, str)):
                raise TypeError(
                    f"save: dict keys must be strings, numbers or None, got "
                    f"{type(key).__name__} in {where}"
                )
            items.append([key, _encode(value, arrays, seen, f"{where}[{key!r}]")])
        return {"type": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays, seen, f"{where}[{i}]") for i, v in enumerate(obj)]
        return {"type": type(obj).__name__, "items": items}
    raise TypeError(
        f"save: cannot save a {type(obj).__name__} (at {where}); a checkpoint holds tensors, "
        "NumPy arrays, numbers, strings, None, and dicts, lists and tuples of them"
    )


def _decode(node: Any, arrays: dict[str, np.ndarray], device: Device, loaded: dict) -> Any:
    """The object `node` describes; a tensor saved twice comes back as one object."""
    if not isinstance(node, dict):
        return node
    kind = node["type"]
    if kind == "dict":
        return {key: _decode(value, arrays, device, loaded) for key, value in node["items"]}
    if kind in ("list", "tuple"):
        items = [_decode(value, arrays, device, loaded) for value in node["items"]]
        return items if kind == "list" else tuple(items)
    key = node["key"]
    if key not in loaded:
        array = arrays[key]
        loaded[key] = array
        if kind == "tensor":
            requires_grad = node.get("requires_grad", False)
            loaded[key] = Tensor(array, array.dtype, device, requires_grad)
    return loaded[key]
