#!/usr/bin/python3
"""PyTorch side of tools/bench/onnx-throughput.ts (run with Debian's /usr/bin/python3).

    /usr/bin/python3 tools/bench/onnx_reference.py export <out.onnx>
    /usr/bin/python3 tools/bench/onnx_reference.py measure --threads N [--images 256] [--batch 64]

export: OpenOOD's ResNet18_32x32 (tools/bench/pytorch_reference.py, random init, seed 0) through
torch.onnx.export (opset 13, dynamic batch), logits as the graph output.
measure: feature extraction (logits + penultimate features, eval mode, no_grad) images/s at N
threads; prints one JSON object.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_reference import ResNet18_32x32  # noqa: E402


def features_and_logits(net, x):
    z = torch.flatten(F.adaptive_avg_pool2d(net.layers(F.relu(net.bn1(net.conv1(x)))), 1), 1)
    return net.fc(z), z


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["export", "measure"])
    p.add_argument("path", nargs="?")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--batch", type=int, default=64)
    a = p.parse_args()
    torch.manual_seed(0)
    net = ResNet18_32x32().eval()
    if a.mode == "export":
        x = torch.rand(2, 3, 32, 32)
        torch.onnx.export(net, x, a.path, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
        return
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    x = torch.rand(a.batch, 3, 32, 32)
    with torch.no_grad():
        features_and_logits(net, x)  # warm-up
        done, t0 = 0, time.perf_counter()
        while done < a.images:
            logits, z = features_and_logits(net, x)
            logits.numpy(), z.numpy()
            done += a.batch
        seconds = time.perf_counter() - t0
    print(json.dumps({"engine": "pytorch", "version": torch.__version__, "threads": a.threads, "batch": a.batch,
                      "images": done, "seconds": seconds, "imagesPerSecond": done / seconds}))


if __name__ == "__main__":
    main()
