#!/usr/bin/python3
"""PyTorch CPU reference for tools/bench/train-throughput.ts (same workloads, same protocol).

Not part of the project or CI: a measuring stick. Run with Debian's python3-torch
(`apt-get install -y python3-torch`), using /usr/bin/python3:

    /usr/bin/python3 tools/bench/pytorch_reference.py [--out file.json] [--steps 5] [--warmup auto|N] [--warmup-seconds 5]
        [--threads N] [--nets lenet,resnet18_32x32] [--batch 128] [--train-batch N]

One training step = forward (train mode) + cross-entropy + backward + SGD-momentum update on a
fixed random batch of 128; one inference step = forward in eval mode under no_grad. Figures are
batch / median step time. The networks follow OpenOOD's LeNet and ResNet18_32x32 definitions.
"""
import argparse
import json
import os
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    def __init__(self, num_classes=10, num_channel=1):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(num_channel, 6, 5, 1, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5, 1), nn.ReLU(), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(nn.Conv2d(16, 120, 5, 1), nn.ReLU())
        self.classifier1 = nn.Linear(120, 84)
        self.fc = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(x)))
        x = F.relu(self.classifier1(x.view(x.shape[0], -1)))
        return self.fc(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18_32x32(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


WORKLOADS = {
    "lenet": (lambda: LeNet(), (1, 28, 28)),
    "resnet18_32x32": (lambda: ResNet18_32x32(), (3, 32, 32)),
}


def warm_up(step, warmup, seconds):
    """Untimed steps: `warmup` of them, or for 'auto' at least 2 and until `seconds` passed (<= 200),
    the same rule as tools/bench/train-throughput.ts."""
    if warmup != "auto":
        for _ in range(int(warmup)):
            step()
        return int(warmup)
    t0, n = time.perf_counter(), 0
    while n < 2 or (n < 200 and time.perf_counter() - t0 < seconds):
        step()
        n += 1
    return n


def time_steps(step, steps):
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", default="auto")
    p.add_argument("--warmup-seconds", type=float, default=5.0)
    p.add_argument("--threads", type=int)
    p.add_argument("--nets", default="lenet,resnet18_32x32")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--train-batch", type=int)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    batch = a.batch
    train_batch = a.train_batch or batch
    results = []
    for name in a.nets.split(","):
        build, shape = WORKLOADS[name]
        net = build()
        x = torch.randn(batch, *shape)
        y = torch.randint(0, 10, (train_batch,))
        x_train = x[:train_batch]
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

        def train_step():
            net.train()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(x_train), y)
            loss.backward()
            opt.step()
            loss.item()

        def infer_step():
            net.eval()
            with torch.no_grad():
                net(x).sum().item()

        train_warmup = warm_up(train_step, a.warmup, a.warmup_seconds)
        train = time_steps(train_step, a.steps)
        infer_warmup = warm_up(infer_step, a.warmup, a.warmup_seconds)
        infer = time_steps(infer_step, a.steps)
        r = {
            "network": name,
            "batch": batch,
            "train_batch": train_batch,
            "train_images_per_s": train_batch * 1000 / statistics.median(train),
            "infer_images_per_s": batch * 1000 / statistics.median(infer),
            "train_warmup_steps": train_warmup,
            "infer_warmup_steps": infer_warmup,
            "train_step_ms": [round(t, 1) for t in train],
            "infer_step_ms": [round(t, 1) for t in infer],
        }
        print(f"{name:16} train {r['train_images_per_s']:8.1f} img/s   infer {r['infer_images_per_s']:8.1f} img/s", flush=True)
        results.append(r)
    report = {
        "tool": "tools/bench/pytorch_reference.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "loadavg": list(os.getloadavg()),
        "warmup": a.warmup,
        "warmup_seconds": a.warmup_seconds,
        "steps": a.steps,
        "results": results,
    }
    text = json.dumps(report, indent=2)
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        tmp = f"{a.out}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, a.out)
        print(f"wrote {a.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
