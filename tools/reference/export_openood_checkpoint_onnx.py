"""Exports an OpenOOD checkpoint of the agreement fixtures to ONNX (run with Debian's /usr/bin/python3).

  /usr/bin/python3 tools/reference/export_openood_checkpoint_onnx.py [--arch lenet|resnet18_32x32] [--dir <dir>]

Reads <dir>/<arch>.pth (written by openood_checkpoint_reference.py: OpenOOD's LeNet with 3 input channels
or ResNet18_32x32, the benchmark's 4 classes, torch.save(state_dict)) into the same architecture and writes
<dir>/<arch>.onnx with torch.onnx.export: the same weights, the logits as the only graph output (oodkit
finds the final Gemm and takes its input as the feature). `oodkit eval --onnx` on it must give the metrics
`oodkit eval --checkpoint <arch>.pth --network <arch>` gives for every feature-based method:
apps/cli/tests/eval-onnx-tfjs.test.ts (the committed LeNet, the default --dir) and
tools/reference/openood-checkpoint-agreement.ts --onnx (any arch).
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx_fixtures import export  # noqa: E402  (the export settings of the other ONNX fixtures)
from openood_checkpoint_reference import ARCHS, LeNet, ResNet18_32x32  # noqa: E402  (OpenOOD's parameter names)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--arch', choices=sorted(ARCHS), default='lenet')
    parser.add_argument('--dir', default='apps/cli/tests/fixtures/openood-lenet')
    args = parser.parse_args()
    state = torch.load(os.path.join(args.dir, f'{args.arch}.pth'), map_location='cpu')
    classes = state['fc.weight'].shape[0]
    net = LeNet(classes) if args.arch == 'lenet' else ResNet18_32x32(classes)
    net.load_state_dict(state, strict=True)
    net.eval()
    size = ARCHS[args.arch]['size']
    path = os.path.join(args.dir, f'{args.arch}.onnx')
    export(net, torch.zeros(2, 3, size, size), path, ['logits'])
    print(f'wrote {path}: torch {torch.__version__}')


if __name__ == '__main__':
    main()
