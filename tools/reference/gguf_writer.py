"""A small GGUF (version 3) writer for test fixtures: metadata of every value type, tensors
in F32, F16, BF16 and Q8_0. Not a converter: callers name tensors and metadata themselves.

Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""
import struct

import numpy as np

# gguf_metadata_value_type
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
# ggml_type ids of the tensor types this writer emits
GGML_F32, GGML_F16, GGML_Q8_0, GGML_BF16 = 0, 1, 8, 30

_FMT = {UINT8: '<B', INT8: '<b', UINT16: '<H', INT16: '<h', UINT32: '<I', INT32: '<i',
        FLOAT32: '<f', BOOL: '<?', UINT64: '<Q', INT64: '<q', FLOAT64: '<d'}


def _string(s):
    b = s.encode('utf-8')
    return struct.pack('<Q', len(b)) + b


def _value(vtype, value):
    if vtype == STRING:
        return _string(value)
    if vtype == ARRAY:
        etype, items = value
        out = struct.pack('<IQ', etype, len(items))
        return out + b''.join(_value(etype, v) for v in items)
    return struct.pack(_FMT[vtype], value)


def quantize_q8_0(x):
    """(..., K) float32 with K % 32 == 0 -> Q8_0 bytes: per block an f16 scale d = max|x|/127,
    then 32 int8 round(x / d) (round half to even, as numpy rounds)."""
    x = np.asarray(x, dtype=np.float32)
    assert x.shape[-1] % 32 == 0, 'Q8_0 needs rows that are a multiple of 32'
    blocks = x.reshape(-1, 32)
    d = (np.abs(blocks).max(axis=1) / np.float32(127)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.clip(np.rint(blocks * inv[:, None]), -127, 127).astype(np.int8)
    out = np.zeros((blocks.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def dequantize_q8_0(raw, shape):
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 34)
    d = b[:, 0:2].copy().view(np.float16).astype(np.float32)
    q = b[:, 2:].copy().view(np.int8).astype(np.float32)
    return (q * d).reshape(shape).astype(np.float32)


class GGUFWriter:
    def __init__(self, alignment=32):
        self.kv = []          # (key, vtype, value)
        self.tensors = []     # (name, shape row-major, ggml type, bytes)
        self.alignment = alignment
        if alignment != 32:
            self.add('general.alignment', UINT32, alignment)

    def add(self, key, vtype, value):
        self.kv.append((key, vtype, value))

    def add_tensor(self, name, array, ggml_type=GGML_F32):
        a = np.ascontiguousarray(array, dtype=np.float32)
        if ggml_type == GGML_F32:
            raw = a.tobytes()
        elif ggml_type == GGML_F16:
            raw = a.astype(np.float16).tobytes()
        elif ggml_type == GGML_BF16:
            raw = (a.view(np.uint32) + 0x7FFF + ((a.view(np.uint32) >> 16) & 1) >> 16).astype(np.uint16).tobytes()
        elif ggml_type == GGML_Q8_0:
            raw = quantize_q8_0(a)
        else:
            raise ValueError('unsupported ggml type %d' % ggml_type)
        self.tensors.append((name, a.shape, ggml_type, raw))
        return raw

    def write(self, path, version=3):
        head = struct.pack('<4sIQQ', b'GGUF', version, len(self.tensors), len(self.kv))
        for key, vtype, value in self.kv:
            head += _string(key) + struct.pack('<I', vtype) + _value(vtype, value)
        offset = 0
        offsets = []
        for name, shape, gtype, raw in self.tensors:
            offsets.append(offset)
            ne = list(reversed(shape))  # GGUF lists the innermost dimension first
            head += _string(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', n) for n in ne)
            head += struct.pack('<IQ', gtype, offset)
            offset += len(raw)
            offset += (-offset) % self.alignment
        head += b'\0' * ((-len(head)) % self.alignment)
        with open(path, 'wb') as f:
            f.write(head)
            for (name, shape, gtype, raw), off in zip(self.tensors, offsets):
                f.write(raw)
                f.write(b'\0' * ((-len(raw)) % self.alignment))
