"""Runs a module exported by `spikelm export --to pytorch` for the bench group "pytorch"
(tools/bench/groups/pytorch.ts), answering requests so the bench can interleave PyTorch's
forwards with spikelm's in the same time window.

    python3 torch_block_server.py MODULE.py WEIGHTS.safetensors INPUTS.safetensors

Loads the module, its weights (amplitudes included: nothing is calibrated here) and the
inputs, then reads one JSON request per line on stdin and writes one JSON answer per line on
stdout (nothing else goes to stdout); exits when stdin closes.

    {"op": "run", "threads": t}     -> {"ok": true, "ms": ..., "cpu_ms": ...}
    {"op": "check", "out": path}    -> {"ok": true}: writes output and spikes/<neuron> to path
    (any failure)                   -> {"ok": false, "error": "..."}

The first line written is {"ok": true, "info": {...}}: torch's version, parallel and build
configuration, and which BLAS the forward's matrix products really call. `ms` is
time.perf_counter around the forward under torch.no_grad(); `cpu_ms` is time.process_time
(every thread of this process) around the same call.

BLAS: Debian's python3-torch calls whatever libblas.so.3 the system's alternatives name
(the reference BLAS unless changed). The issue's yardstick is PyTorch with OpenBLAS, so when
libopenblas.so.0 is installed (Debian's libopenblas0-openmp: its threads follow
torch.set_num_threads) this process re-executes itself once with it in LD_PRELOAD, whose
sgemm_ then takes the place of the system one's. OpenBLAS 0.3.21 does not know recent Xeons
and falls back to its Prescott (SSE3) kernels on them; on a CPU with AVX-512 (else AVX2) it is
then told SkylakeX (Haswell) through OPENBLAS_CORETYPE. SPIKELM_TORCH_BLAS=system keeps the
system BLAS; an OPENBLAS_CORETYPE already set is kept.
"""
import ctypes
import ctypes.util
import importlib.util
import json
import os
import sys
import time

_REEXEC = "SPIKELM_TORCH_BENCH_REEXEC"


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _openblas_corename(lib):
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib.openblas_get_corename().decode()


def _use_openblas():
    """Re-executes this script with OpenBLAS preloaded (see the module's docstring)."""
    if os.environ.get(_REEXEC) or os.environ.get("SPIKELM_TORCH_BLAS", "openblas") != "openblas":
        return
    name = ctypes.util.find_library("openblas")
    if not name:
        return
    env = dict(os.environ)
    env[_REEXEC] = "1"
    env["LD_PRELOAD"] = ":".join(p for p in (name, env.get("LD_PRELOAD", "")) if p)
    if "OPENBLAS_CORETYPE" not in env:
        try:
            detected = _openblas_corename(ctypes.CDLL(name))
        except (OSError, AttributeError):
            detected = ""
        flags = _cpu_flags()
        if detected.lower() == "prescott":
            if "avx512f" in flags:
                env["OPENBLAS_CORETYPE"] = "SkylakeX"
            elif "avx2" in flags:
                env["OPENBLAS_CORETYPE"] = "Haswell"
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


_use_openblas()

import torch  # noqa: E402  (after the re-exec: the BLAS is chosen before torch loads)

OUT = sys.stdout
sys.stdout = sys.stderr  # anything the module prints must not break the protocol


def reply(obj):
    OUT.write(json.dumps(obj) + "\n")
    OUT.flush()


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p), ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def blas_info():
    """Which library's sgemm_ the process's global lookup finds (torch's own calls resolve the
    same way), the BLAS libraries mapped, and OpenBLAS's own report when it is loaded."""
    info = {"preload": os.environ.get("LD_PRELOAD") if os.environ.get(_REEXEC) else None, "coretype_env": os.environ.get("OPENBLAS_CORETYPE")}
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "blas" in line.split()[-1]})
        info["mapped"] = [os.path.realpath(p) for p in libs]
    except OSError:
        pass
    try:
        addr = ctypes.cast(ctypes.CDLL(None).sgemm_, ctypes.c_void_p)
        dl = _DlInfo()
        if ctypes.CDLL(None).dladdr(addr, ctypes.byref(dl)):
            info["sgemm_provider"] = os.path.realpath(dl.dli_fname.decode())
    except (AttributeError, OSError):
        # not in the global scope: the libblas.so.3 torch links, the only BLAS mapped
        mapped = info.get("mapped", [])
        info["sgemm_provider"] = mapped[0] if len(mapped) == 1 else "unknown"
    name = ctypes.util.find_library("openblas")
    if name and any("openblas" in p for p in info.get("mapped", [])):
        lib = ctypes.CDLL(name)
        lib.openblas_get_config.restype = ctypes.c_char_p
        info["openblas_config"] = lib.openblas_get_config().decode()
        info["openblas_corename"] = _openblas_corename(lib)
        info["openblas_parallel"] = {0: "sequential", 1: "pthreads", 2: "openmp"}.get(lib.openblas_get_parallel(), "?")
    return info


def load(module_path, weights_path, inputs_path):
    spec = importlib.util.spec_from_file_location("exported_block", module_path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    model = m.build().eval()
    missing, unexpected = m.load_weights(model, m.load_safetensors(weights_path))
    if missing or unexpected:
        raise RuntimeError(f"weights do not match the module: missing {list(missing)}, unexpected {list(unexpected)}")
    if not m.calibrated(model):
        raise RuntimeError("some amplitudes were not loaded")
    inputs = m.load_safetensors(inputs_path)
    return m, model, [inputs[name] for name in m.INPUTS]


def main():
    if len(sys.argv) != 4:
        raise SystemExit("usage: torch_block_server.py MODULE.py WEIGHTS.safetensors INPUTS.safetensors")
    try:
        m, model, args = load(*sys.argv[1:])
    except Exception as e:  # the bench reports the reason
        reply({"ok": False, "error": f"{type(e).__name__}: {e}"})
        return
    build = torch.__config__.show()
    reply({
        "ok": True,
        "info": {
            "torch": torch.__version__,
            "parallel_info": torch.__config__.parallel_info(),
            "blas_build": next((p.strip() for p in build.replace(",", "\n").splitlines() if "BLAS_INFO" in p), "?"),
            "blas": blas_info(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        },
    })
    threads = None
    for line in sys.stdin:
        try:
            req = json.loads(line)
            if req.get("threads") is not None and req["threads"] != threads:
                threads = int(req["threads"])
                torch.set_num_threads(threads)
            if req["op"] == "run":
                with torch.no_grad():
                    c0, t0 = time.process_time(), time.perf_counter()
                    model(*args)
                    t1, c1 = time.perf_counter(), time.process_time()
                reply({"ok": True, "ms": (t1 - t0) * 1e3, "cpu_ms": (c1 - c0) * 1e3, "threads": torch.get_num_threads()})
            elif req["op"] == "check":
                m.set_record_spikes(model, True)
                try:
                    with torch.no_grad():
                        out = model(*args)
                    result = {"output": out}
                    for k, v in m.spike_record(model).items():
                        result["spikes/" + k] = v
                    m.save_safetensors(req["out"], result)
                finally:
                    m.set_record_spikes(model, False)
                reply({"ok": True})
            else:
                reply({"ok": False, "error": f"unknown op {req['op']!r}"})
        except Exception as e:
            reply({"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
