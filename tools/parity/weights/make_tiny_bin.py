#!/usr/bin/env python3
"""Write a tiny PyTorch checkpoint (zip + pickle, the `torch.save` format) without torch.

The Rust test `weights_convert` reads it through candle's pickle reader and through our
.bin -> safetensors conversion, and compares both with the values computed here:

    layer.weight  f32 [3, 4]  0.5 * i - 1.0        (i = 0..12, row-major)
    layer.bias    f32 [3]     storage "1", values 10, 20, 30
    tail          f32 [2]     a view at offset 8 into layer.weight's storage: 3.0, 3.5
    emb           f16 [2, 2]  0.25 * i             (i = 0..4)

Run by hand: python3 tools/parity/weights/make_tiny_bin.py models/tests/fixtures/weights/tiny_pytorch_model.bin
"""
import collections
import io
import pickle
import struct
import sys
import types
import zipfile


def fake_torch_modules():
    # pickle writes a GLOBAL by looking the object up under its module name, so the names
    # torch.FloatStorage and torch._utils._rebuild_tensor_v2 must be importable here.
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("only for pickling")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    for name in ("FloatStorage", "HalfStorage"):
        cls = type(name, (), {"__module__": "torch", "__qualname__": name})
        setattr(torch, name, cls)
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return torch, utils


torch, utils = fake_torch_modules()


class Storage:
    def __init__(self, key, storage_class, numel):
        self.key, self.storage_class, self.numel = key, storage_class, numel


class Tensor:
    def __init__(self, storage, offset, size):
        self.storage, self.offset, self.size = storage, offset, size

    def __reduce__(self):
        stride, acc = [], 1
        for dim in reversed(self.size):
            stride.insert(0, acc)
            acc *= dim
        args = (self.storage, self.offset, tuple(self.size), tuple(stride), False, collections.OrderedDict())
        return (utils._rebuild_tensor_v2, args)


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.storage_class, obj.key, "cpu", obj.numel)
        return None


def main(out_path):
    weight_values = [0.5 * i - 1.0 for i in range(12)]
    bias_values = [10.0, 20.0, 30.0]
    emb_values = [0.25 * i for i in range(4)]
    s0 = Storage("0", torch.FloatStorage, 12)
    s1 = Storage("1", torch.FloatStorage, 3)
    s2 = Storage("2", torch.HalfStorage, 4)
    state = collections.OrderedDict()
    state["layer.weight"] = Tensor(s0, 0, [3, 4])
    state["layer.bias"] = Tensor(s1, 0, [3])
    state["tail"] = Tensor(s0, 8, [2])
    state["emb"] = Tensor(s2, 0, [2, 2])

    pkl = io.BytesIO()
    TorchLikePickler(pkl, protocol=2).dump(state)

    entries = [
        ("archive/data.pkl", pkl.getvalue()),
        ("archive/byteorder", b"little"),
        ("archive/data/0", struct.pack("<12f", *weight_values)),
        ("archive/data/1", struct.pack("<3f", *bias_values)),
        ("archive/data/2", struct.pack("<4e", *emb_values)),
        ("archive/version", b"3\n"),
    ]
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in entries:
            # A fixed timestamp keeps the fixture byte-identical across runs.
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tiny_pytorch_model.bin")
