/**
 * The fixed part of an exported PyTorch module: the spike autograd Functions, the spiking
 * neuron base class (amplitudes calibrated on first use), float32 helpers that reproduce
 * spikelm's numerics where spikes depend on them, and safetensors reading/writing with
 * struct + json (so the module needs nothing but torch).
 */
export const PY_RUNTIME = String.raw`
import json
import math
import struct
from array import array

import torch
import torch.nn as nn


# ---------------------------------------------------------------------------------------
# Gradient rules of spike functions, as the spec writes them (spikelm's detach, surrogate and
# grad_scale builtins). The stdlib's reference neuron says, with them, what the SpikeLM
# reference code's ElasticBiSpiking.backward does: straight through where -1 <= u/alpha <= 1
# (ends included), a detached reset factor, and (amplitudes trained only on request) LSQ's
# amplitude gradient scaled by 1/sqrt(numel(u)).


class Surrogate(torch.autograd.Function):
    """surrogate(value, proxy): value's value, proxy's gradient (e.g. ternary levels
    clamp(round(q), -1, 1) whose gradient passes as through clamp(q, -1, 1))."""

    @staticmethod
    def forward(ctx, value, proxy):
        ctx.proxy_shape = proxy.shape
        return value.clone()

    @staticmethod
    def backward(ctx, g):
        return None, _unbroadcast(g, ctx.proxy_shape)


class GradScale(torch.autograd.Function):
    """grad_scale(x, k): x itself; the gradient flowing back to x is multiplied by k."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


def _unbroadcast(g, shape):
    while g.dim() > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdim=True)
    return g


def surrogate(value, proxy):
    return Surrogate.apply(value, proxy)


def grad_scale(x, k):
    return GradScale.apply(x, float(k))


def heaviside(x):
    return (x >= 0).to(torch.float32)


def at_least(x, lo):
    """x where x > lo, else lo (NaN gives lo): the reference's where(alpha > eps, alpha, eps)."""
    lo = torch.as_tensor(lo, dtype=x.dtype, device=x.device)
    return torch.where(x > lo, x, lo)


def mean_f32(x):
    """Mean of every element, summed sequentially in float32 from +0 in row-major order, as
    spikelm computes it: amplitude calibration uses it so alphas (and spikes) are identical."""
    acc = array("f", [0.0])
    for v in x.detach().reshape(-1).tolist():
        acc[0] = acc[0] + v
    return torch.tensor(acc[0] / max(1, x.numel()), dtype=torch.float32)


def mean_time(x):
    """Average over the leading time axis: a sequential float32 sum over T, then / T."""
    acc = x[0]
    for t in range(1, x.shape[0]):
        acc = acc + x[t]
    return acc / x.shape[0]


def over_time(x, T):
    return x.unsqueeze(0).expand(T, *x.shape)


def split_heads(x, h):
    *lead, L, d = x.shape
    return x.reshape(*lead, L, h, d // h).transpose(-2, -3)


def merge_heads(x):
    *lead, h, L, e = x.shape
    return x.transpose(-2, -3).reshape(*lead, L, h * e)


# The device of the entry's inputs (set by a forward pre-hook that build() installs), for the
# tensors a forward makes from nothing (causal masks).
_DEVICE = torch.device("cpu")


def _remember_device(module, args):
    global _DEVICE
    for a in args:
        if torch.is_tensor(a):
            _DEVICE = a.device
            break


def causal_mask(L, enabled=True):
    m = torch.zeros(L, L, dtype=torch.float32, device=_DEVICE)
    if enabled:
        m = m.masked_fill(torch.ones(L, L, dtype=torch.bool, device=_DEVICE).triu(1), torch.finfo(torch.float32).min)
    return m


def positions(ids):
    return torch.arange(ids.shape[-1], dtype=torch.int32, device=ids.device)


def gather(table, ids, pad=-1):
    """Rows of table at ids; the row of the id pad (an embedding's padding_idx) gets no gradient."""
    return torch.nn.functional.embedding(ids.long(), table, padding_idx=pad if pad >= 0 else None)


def layernorm(x, gamma, beta, eps=1e-12):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], gamma, beta, eps)


def gelu(x):
    return torch.nn.functional.gelu(x)


def apply_stack(layers, x, *rest):
    """A repeat stack: each layer takes the previous one's output (and the same extra inputs)."""
    for layer in layers:
        x = layer(x, *rest)
    return x


def dim(v):
    """A shape expression as an int (constructor arithmetic like d / heads)."""
    iv = int(round(v))
    if iv != v:
        raise ValueError(f"dimension {v} is not a whole number")
    return iv


# ---------------------------------------------------------------------------------------
# Weight initialisers (spikelm's kinds; values come from torch's generator, not spikelm's)


def init_uniform(shape, bound=None):
    if bound is None:
        bound = 1.0 / math.sqrt(shape[-1]) if shape and shape[-1] > 0 else 0.0
    return nn.Parameter(torch.empty(*shape, dtype=torch.float32).uniform_(-bound, bound))


def init_normal(shape, std):
    return nn.Parameter(torch.empty(*shape, dtype=torch.float32).normal_(0.0, std))


def init_fill(shape, value):
    return nn.Parameter(torch.full(tuple(shape), float(value), dtype=torch.float32))


# ---------------------------------------------------------------------------------------
# Neurons


class SpikingNeuron(nn.Module):
    """Base of every exported neuron. Amplitudes (one scalar per time step) are parameters,
    frozen unless TRAIN_AMPLITUDES is set (the reference freezes them); each step's value is
    calibrated on first use from the spec's initialiser unless it was loaded. With
    record_spikes set, the last forward's spike levels [T, ...] are kept in self.spikes."""

    record_spikes = False

    def add_amplitude(self, name):
        self.register_parameter(name, nn.Parameter(torch.zeros(TIMESTEPS, dtype=torch.float32), requires_grad=TRAIN_AMPLITUDES))
        self.register_buffer("_calibrated_" + name, torch.zeros(TIMESTEPS, dtype=torch.uint8), persistent=False)  # uint8: gloo broadcasts no bool

    def amplitude(self, name, t, init=None):
        p = getattr(self, name)
        done = getattr(self, "_calibrated_" + name)
        if not bool(done[t]):
            if init is None:
                raise RuntimeError(f"amplitude {name}[{t}] read before it was calibrated")
            with torch.no_grad():
                p[t] = init()
                done[t] = 1
        return p[t]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        for name, _ in self.named_parameters(recurse=False):
            if prefix + name in state_dict:
                getattr(self, "_calibrated_" + name).fill_(1)

    def keep(self, levels):
        if self.record_spikes:
            self.spikes = torch.stack(levels).detach()


def calibrated(model):
    """True when every amplitude of the model has its value (loaded or calibrated)."""
    return all(bool(b.all()) for n, b in model.named_buffers() if n.split(".")[-1].startswith("_calibrated_"))


def spike_record(model):
    """Every neuron's spike levels from the last forward (record_spikes must be on)."""
    return {n: m.spikes for n, m in model.named_modules() if isinstance(m, SpikingNeuron) and hasattr(m, "spikes")}


def set_record_spikes(model, on=True):
    for m in model.modules():
        if isinstance(m, SpikingNeuron):
            m.record_spikes = on


# ---------------------------------------------------------------------------------------
# safetensors (the format spikelm reads and writes), with struct + json only

_ST_DTYPES = {"F32": (torch.float32, 4), "I32": (torch.int32, 4), "I64": (torch.int64, 8), "F64": (torch.float64, 8), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}
_ST_NAMES = {v[0]: k for k, v in _ST_DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": _ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    import os
    os.replace(tmp, path)


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, size = _ST_DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        buf = bytearray(raw[base + start : base + end])
        t = torch.frombuffer(buf, dtype=dtype) if end > start else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out
`;
