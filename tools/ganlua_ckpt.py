#!/usr/bin/env python3
"""ganlua_ckpt.py: read a ganlua checkpoint (a safetensors file) from Python.

No package is needed to read one; with PyTorch installed, state_dict()
gives what torch.nn.Module.load_state_dict takes.

    import ganlua_ckpt
    ck = ganlua_ckpt.read("runs/dcgan/ckpt.safetensors")
    ck.names                      # ["G.0.weight", ...], in file order
    ck.values                     # the checkpoint's plain values: {"it": 936, ...}
    shape, floats = ck.tensor("G.0.weight")   # a tuple and an array('f')
    G.load_state_dict(ganlua_ckpt.state_dict("runs/dcgan/ckpt.safetensors", "G"))

ganlua stores a module saved as ckpt.save(path, {G = G}) under its
PyTorch state-dict names with the key as a prefix ("G.0.weight"), every
tensor as little-endian float32, and everything else as JSON in the file's
metadata under "ganlua" (see stdlib/ckpt.lua). Anything else is refused
with a message naming the file.
"""
import array
import json
import struct
import sys


class Checkpoint:
    def __init__(self, path, header, data):
        self.path = path
        self._header = header
        self._data = data
        meta = header.get("__metadata__", {}) or {}
        inner = meta.get("ganlua")
        self.metadata = json.loads(inner) if inner else {}
        self.values = self.metadata.get("values", {})
        entries = [(k, v) for k, v in header.items() if k != "__metadata__"]
        entries.sort(key=lambda kv: kv[1]["data_offsets"][0])
        self.names = [k for k, _ in entries]

    def tensor(self, name):
        """(shape, array('f')) of one tensor"""
        e = self._header.get(name)
        if e is None or name == "__metadata__":
            raise KeyError("%s holds no tensor %r" % (self.path, name))
        if e.get("dtype") != "F32":
            raise ValueError("%s: tensor %r is %s, not F32" % (self.path, name, e.get("dtype")))
        a, b = e["data_offsets"]
        n = 1
        for d in e["shape"]:
            n *= d
        if b - a != 4 * n or b > len(self._data):
            raise ValueError("%s: tensor %r's bytes do not match its shape %s" % (self.path, name, e["shape"]))
        floats = array.array("f")
        floats.frombytes(self._data[a:b])
        if sys.byteorder != "little":
            floats.byteswap()
        return tuple(e["shape"]), floats


def read(path):
    """the checkpoint at path (raises ValueError on a malformed file)"""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError("%s: its header runs past the end of the file (truncated?)" % path)
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except ValueError as e:
        raise ValueError("%s: the header is not JSON: %s" % (path, e))
    return Checkpoint(path, header, blob[8 + n:])


def state_dict(path, prefix):
    """{name: torch.Tensor} of the module saved under prefix ("G" for {G = G}),
    for torch.nn.Module.load_state_dict"""
    import torch

    ck = read(path)
    pre = prefix + "."
    out = {}
    for name in ck.names:
        if name.startswith(pre):
            shape, floats = ck.tensor(name)
            out[name[len(pre):]] = torch.tensor(floats, dtype=torch.float32).reshape(shape)
    if not out:
        raise KeyError("%s holds no module %r (its tensors: %s)" % (path, prefix, ", ".join(ck.names[:5])))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: ganlua_ckpt.py CHECKPOINT (lists its tensors and values)")
    ck = read(sys.argv[1])
    for name in ck.names:
        shape, _ = ck.tensor(name)
        print("%-40s %s" % (name, "x".join(str(d) for d in shape) or "scalar"))
    print(json.dumps(ck.values, indent=1))
