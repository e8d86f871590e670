"""Exports the ONNX fixtures of libs/networks/tests/external (run with Debian's /usr/bin/python3).

  /usr/bin/python3 tools/reference/export_onnx_fixtures.py [out_dir]

Writes, with random-init weights from a fixed seed:
  lenet.onnx        OpenOOD's LeNet (3 input channels, 28x28), exported by torch.onnx.export with the
                    logits as the only graph output: the final nn.Linear becomes a Gemm node.
  matmul_head.onnx  a tiny conv net whose final linear layer runs on a rank-3 tensor, so the exporter
                    writes MatMul + Add; its graph outputs are named 'logits' and 'features'.
  onnx_reference.json  for each model: a fixed NCHW input, PyTorch's logits and penultimate features,
                    and the final layer (W [C, D], b [C]).
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    """OpenOOD's LeNet (openood/networks/lenet.py) with num_channel=3."""

    def __init__(self, num_classes=10, num_channel=3):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(num_channel, 6, 5, 1, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5, 1), nn.ReLU(), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(nn.Conv2d(16, 120, 5, 1), nn.ReLU())
        self.classifier1 = nn.Linear(120, 84)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(84, num_classes)

    def features(self, x):
        x = self.block3(self.block2(self.block1(x)))
        return self.relu(self.classifier1(x.view(x.shape[0], -1)))

    def forward(self, x):
        return self.fc(self.features(x))


class MatMulHead(nn.Module):
    """Final linear layer applied to [N, 1, D]: exported as MatMul + Add instead of Gemm."""

    def __init__(self, num_classes=5):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, 1, 1)
        self.hidden = nn.Linear(4 * 4 * 4, 16)
        self.fc = nn.Linear(16, num_classes)

    def features(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return F.relu(self.hidden(torch.flatten(x, 1)))

    def forward(self, x):
        z = self.features(x)
        return self.fc(z.unsqueeze(1)).squeeze(1), z


def export(model, example, path, output_names):
    torch.onnx.export(
        model,
        example,
        path,
        input_names=["input"],
        output_names=output_names,
        dynamic_axes={"input": {0: "batch"}, **{name: {0: "batch"} for name in output_names}},
        opset_version=13,
        do_constant_folding=True,
    )


def reference(model, x):
    with torch.no_grad():
        z = model.features(x)
        logits = model.fc(z)
    return {
        "input_shape": list(x.shape),
        "input": x.flatten().tolist(),
        "logits": logits.flatten().tolist(),
        "features": z.flatten().tolist(),
        "num_classes": logits.shape[1],
        "feature_dim": z.shape[1],
        "weight": model.fc.weight.detach().flatten().tolist(),
        "bias": model.fc.bias.detach().flatten().tolist(),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "libs/networks/tests/fixtures/onnx"
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    lenet = LeNet().eval()
    matmul = MatMulHead().eval()
    gen = torch.Generator().manual_seed(1)
    x_lenet = torch.rand(3, 3, 28, 28, generator=gen) * 2 - 1
    x_matmul = torch.rand(3, 3, 8, 8, generator=gen) * 2 - 1
    export(lenet, x_lenet, os.path.join(out, "lenet.onnx"), ["logits"])
    export(matmul, x_matmul, os.path.join(out, "matmul_head.onnx"), ["logits", "features"])
    refs = {"lenet": reference(lenet, x_lenet), "matmul_head": reference(matmul, x_matmul)}
    with open(os.path.join(out, "onnx_reference.json"), "w") as f:
        json.dump(refs, f)
    print(f"wrote {out}: torch {torch.__version__}")


if __name__ == "__main__":
    main()
