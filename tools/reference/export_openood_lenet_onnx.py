"""Exports the OpenOOD-checkpoint LeNet fixture to ONNX (run with Debian's /usr/bin/python3).

  /usr/bin/python3 tools/reference/export_openood_lenet_onnx.py [fixture_dir]

Reads <fixture_dir>/lenet.pth (written by openood_checkpoint_reference.py --arch lenet: OpenOOD's LeNet
with 3 input channels and the benchmark's 4 classes, torch.save(state_dict)) into OpenOOD's LeNet and
writes <fixture_dir>/lenet.onnx with torch.onnx.export: the same weights, the logits as the only graph
output (oodkit finds the final Gemm and takes its input as the feature). `oodkit eval --onnx` on it must
give the same metrics as `oodkit eval --checkpoint lenet.pth --network lenet` for every feature-based
method (apps/cli/tests/eval-onnx-tfjs.test.ts).
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx_fixtures import LeNet, export  # noqa: E402  (the same OpenOOD LeNet and export settings)


def main():
    fixture = sys.argv[1] if len(sys.argv) > 1 else "apps/cli/tests/fixtures/openood-lenet"
    state = torch.load(os.path.join(fixture, "lenet.pth"), map_location="cpu")
    net = LeNet(num_classes=state["fc.weight"].shape[0], num_channel=state["block1.0.weight"].shape[1])
    net.load_state_dict(state, strict=True)
    net.eval()
    example = torch.zeros(2, net.block1[0].in_channels, 28, 28)
    path = os.path.join(fixture, "lenet.onnx")
    export(net, example, path, ["logits"])
    print(f"wrote {path}: torch {torch.__version__}")


if __name__ == "__main__":
    main()
