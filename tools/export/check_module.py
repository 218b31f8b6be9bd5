"""Runs an exported spikelm module on jobs given as JSON (used by the tests).

Each job: {"module": path.py, "weights": in.safetensors, "inputs": in.safetensors,
"out": out.safetensors, "grad_seed": optional name in inputs}. Loads the weights (amplitudes
not given are calibrated by the first call), runs the forward with spike recording, and writes
the output, every neuron's spikes (spikes/<path>), every amplitude (param/<path>) and, with a
gradient seed, loss = sum(output * seed) backpropagated: grad/<path> and grad_input/<name>.
"""
import importlib.util
import json
import sys

import torch

torch.set_num_threads(1)


def run(job, n):
    spec = importlib.util.spec_from_file_location(f"exported_{n}", job["module"])
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    if job.get("train_amplitudes"):
        m.TRAIN_AMPLITUDES = True
    model = m.build()
    weights = m.load_safetensors(job["weights"]) if job.get("weights") else {}
    missing, unexpected = m.load_weights(model, weights)
    if unexpected:
        raise SystemExit(f"unexpected weights: {unexpected}")
    if job.get("keys_out"):
        with open(job["keys_out"], "w") as f:
            json.dump(list(model.state_dict().keys()), f)
    inputs = m.load_safetensors(job["inputs"])
    m.set_record_spikes(model)
    args = [inputs[name] for name in m.INPUTS]
    out = model(*args)
    result = {"output": out.detach()}
    for k, v in m.spike_record(model).items():
        result["spikes/" + k] = v
    if job.get("grad_seed"):
        args = [a.clone().requires_grad_(True) if a.is_floating_point() else a for a in args]
        model.zero_grad()
        out = model(*args)
        (out * inputs[job["grad_seed"]]).sum().backward()
        for name, p in model.named_parameters():
            if p.grad is not None:
                result["grad/" + name] = p.grad
        for name, a in zip(m.INPUTS, args):
            if a.is_floating_point():
                result["grad_input/" + name] = a.grad
    for name, p in model.named_parameters():
        result["param/" + name] = p.detach()
    m.save_safetensors(job["out"], result)


if __name__ == "__main__":
    for n, job in enumerate(json.load(open(sys.argv[1]))):
        run(job, n)
