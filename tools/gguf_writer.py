# A minimal GGUF v3 writer (metadata of every scalar/string/array type; F32, F16 and Q8_0 tensors).
# Not a reader and not a converter for any particular checkpoint; see tools/export-default-model.py.
#
# Layout per the GGUF spec (ggml/docs/gguf.md): header, key/value metadata, tensor infos with dims
# innermost-first, then tensor data, each tensor aligned to general.alignment (32) from the data start.
import struct

import numpy as np

ALIGN = 32
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(13)
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8


def _str(s):
    b = s.encode('utf-8')
    return struct.pack('<Q', len(b)) + b


def _scalar(t, v):
    fmt = {T_UINT8: 'B', T_INT8: 'b', T_UINT16: 'H', T_INT16: 'h', T_UINT32: 'I', T_INT32: 'i',
           T_FLOAT32: 'f', T_BOOL: '?', T_UINT64: 'Q', T_INT64: 'q', T_FLOAT64: 'd'}[t]
    return struct.pack('<' + fmt, v)


def quantize_q8_0(x):
    # x: (..., K) float, K % 32 == 0 -> bytes of blocks: f16 scale d = max|x|/127, then 32 int8 round(x/d)
    # (numpy rounds half to even, as the TypeScript quantizer does).
    v = np.asarray(x, dtype=np.float32).reshape(-1, 32)
    d = np.abs(v).max(axis=1) / 127.0
    inv = np.where(d == 0, 0.0, 1.0 / np.where(d == 0, 1.0, d)).astype(np.float32)
    q = np.clip(np.rint(v * inv[:, None]), -127, 127).astype(np.int8)
    out = np.zeros((v.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


class GGUFWriter:
    def __init__(self):
        self.kv = []       # (key, encoded type+value)
        self.tensors = []  # (name, shape row-major, ggml type, bytes)

    def add(self, key, value, vtype=None):
        if vtype is None:
            if isinstance(value, bool):
                vtype = T_BOOL
            elif isinstance(value, int):
                vtype = T_UINT32 if value >= 0 else T_INT32
            elif isinstance(value, float):
                vtype = T_FLOAT32
            elif isinstance(value, str):
                vtype = T_STRING
            else:
                raise TypeError(f'{key}: give vtype for {type(value).__name__}')
        payload = _str(value) if vtype == T_STRING else _scalar(vtype, value)
        self.kv.append((key, struct.pack('<I', vtype) + payload))

    def add_array(self, key, values, etype):
        body = struct.pack('<IQ', etype, len(values))
        if etype == T_STRING:
            body += b''.join(_str(s) for s in values)
        else:
            body += b''.join(_scalar(etype, v) for v in values)
        self.kv.append((key, struct.pack('<I', T_ARRAY) + body))

    def add_tensor(self, name, array, ggml_type):
        a = np.ascontiguousarray(array, dtype=np.float32)
        if ggml_type == GGML_F32:
            data = a.tobytes()
        elif ggml_type == GGML_F16:
            data = a.astype(np.float16).tobytes()
        elif ggml_type == GGML_Q8_0:
            if a.shape[-1] % 32:
                raise ValueError(f'{name}: q8_0 needs a last dimension divisible by 32, got {a.shape}')
            data = quantize_q8_0(a)
        else:
            raise ValueError(f'{name}: unsupported ggml type {ggml_type}')
        self.tensors.append((name, a.shape, ggml_type, data))

    def write(self, path):
        head = b'GGUF' + struct.pack('<IQQ', 3, len(self.tensors), len(self.kv) + 1)
        head += _str('general.alignment') + struct.pack('<I', T_UINT32) + _scalar(T_UINT32, ALIGN)
        for key, enc in self.kv:
            head += _str(key) + enc
        offset = 0
        offsets = []
        for name, shape, t, data in self.tensors:
            offsets.append(offset)
            dims = list(reversed(shape))  # GGUF lists ne[0] (the contiguous dimension) first
            head += _str(name) + struct.pack('<I', len(dims)) + b''.join(struct.pack('<Q', d) for d in dims)
            head += struct.pack('<IQ', t, offset)
            offset += (len(data) + ALIGN - 1) // ALIGN * ALIGN
        with open(path, 'wb') as f:
            f.write(head)
            f.write(b'\0' * ((-len(head)) % ALIGN))
            for (name, shape, t, data), off in zip(self.tensors, offsets):
                f.write(data)
                f.write(b'\0' * ((-len(data)) % ALIGN))
