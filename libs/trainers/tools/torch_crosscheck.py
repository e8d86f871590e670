"""Replays torch-crosscheck.ts in PyTorch and prints the largest differences (see that file)."""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

root = sys.argv[1] if len(sys.argv) > 1 else '/tmp/oodkit-xcheck'


def load(d, entry):
    a = np.fromfile(os.path.join(d, entry['file']), dtype=np.float32).reshape(entry['shape'])
    return torch.from_numpy(a.copy())


def to_torch(name, t):
    # oodkit conv weights are [kh, kw, in, out]; PyTorch wants [out, in, kh, kw]
    return t.permute(3, 2, 0, 1).contiguous() if t.dim() == 4 else t


class Block(nn.Module):
    def __init__(self, cin, cout, stride, proj_name):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj_name = proj_name
        if stride != 1 or cin != cout:
            setattr(self, proj_name, nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))
        else:
            setattr(self, proj_name, None)

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        p = getattr(self, self.proj_name)
        return F.relu(out + (p(x) if p is not None else x))


class ResNet18(nn.Module):
    def __init__(self, imagenet, classes):
        super().__init__()
        self.imagenet = imagenet
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False) if imagenet else nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        proj = 'downsample' if imagenet else 'shortcut'
        cin = 64
        for i, (planes, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
            setattr(self, f'layer{i + 1}', nn.Sequential(Block(cin, planes, stride, proj), Block(planes, planes, 1, proj)))
            cin = planes
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        if self.imagenet:
            h = F.max_pool2d(h, 3, 2, 1)
        for i in range(4):
            h = getattr(self, f'layer{i + 1}')(h)
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


class LeNet(nn.Module):
    def __init__(self, cin, classes):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(cin, 6, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(nn.Conv2d(16, 120, 5), nn.ReLU())
        self.classifier1 = nn.Linear(120, 84)
        self.fc = nn.Linear(84, classes)

    def forward(self, x):
        return self.fc(F.relu(self.classifier1(self.block3(self.block2(self.block1(x))).flatten(1))))


def rel(a, b):
    return float((a - b).abs().max() / (b.abs().max() + 1e-12))


for net_name in ['lenet', 'resnet18_32x32', 'resnet18_224x224']:
    d = os.path.join(root, net_name)
    m = json.load(open(os.path.join(d, 'manifest.json')))
    model = LeNet(1, 10) if net_name == 'lenet' else ResNet18(net_name == 'resnet18_224x224', 10)
    sd = model.state_dict()
    for name, entry in m['before'].items():
        sd[name].copy_(to_torch(name, load(os.path.join(d, 'before'), entry)))
    x = load(os.path.join(d, 'io'), m['io']['x']).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor(m['labels'], dtype=torch.long)
    model.eval()
    with torch.no_grad():
        e0 = model(x)
    report = {'eval_logits': rel(load(os.path.join(d, 'io'), m['io']['eval_logits']), e0)}
    opt = torch.optim.SGD(model.parameters(), lr=m['lr'], momentum=0.9, weight_decay=5e-4, nesterov=True)
    total = m['total_steps']
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1e-6 / m['lr'] + (1 - 1e-6 / m['lr']) * 0.5 * (1 + math.cos(s / total * math.pi)))
    model.train()
    losses = []
    for _ in range(2):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss))
    report['losses_torch'] = losses
    report['losses_oodkit'] = m['losses']
    sd = model.state_dict()
    worst = max(((rel(to_torch(n, load(os.path.join(d, 'after'), e)), sd[n]), n) for n, e in m['after'].items()))
    report['after_state_worst_rel'] = worst
    model.eval()
    with torch.no_grad():
        report['eval_after'] = rel(load(os.path.join(d, 'io'), m['io']['eval_after']), model(x))
    print(net_name, json.dumps(report))
