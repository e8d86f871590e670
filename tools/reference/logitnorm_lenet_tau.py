"""LogitNorm on LeNet in PyTorch, the SIO-table recipe: does it train at OpenOOD's tau?

    /usr/bin/python3 tools/reference/logitnorm_lenet_tau.py <images.idx> <labels.idx>

The idx files: any MNIST-format pair, e.g. the Fashion-MNIST cache oodkit writes under
<cache_dir>/json_digits/. 7,000 training / 2,000 test images (seeded split), LeNet (1 channel), SGD
lr 0.1, momentum 0.9, weight decay 5e-4, Nesterov, cosine to 1e-6 per step, batch 128, 5 epochs; the
LogitNorm loss is CE on logits / ((||logits|| + 1e-7) * tau) as OpenOOD's LogitNormLoss. Measured
2026-12-03 (test accuracy): tau 0.04 → 0.107, 0.1 → 0.107 (one class), 0.3 → 0.814, 1.0 → 0.842; plain
CE 0.816. oodkit's logitnorm at tau 0.04 collapsed the same way on the SIO-table profile.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

from lenet_torch import LeNet, idx

torch.set_num_threads(1)


def main():
    X, Y = idx(sys.argv[1]), idx(sys.argv[2])
    perm = np.random.default_rng(0).permutation(len(X))
    tr, te = perm[:7000], perm[7000:9000]
    prep = lambda a: (torch.tensor(a, dtype=torch.float32)[:, None] / 255 - 0.1307) / 0.3081
    Xtr, Ytr, Xte, Yte = prep(X[tr]), torch.tensor(Y[tr]).long(), prep(X[te]), torch.tensor(Y[te]).long()
    for tau in [None, 0.04, 0.1, 0.3, 1.0]:
        torch.manual_seed(0)
        net = LeNet()
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
        steps = 5 * int(np.ceil(7000 / 128))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=1e-6)
        for _ in range(5):
            p = torch.randperm(7000)
            for i in range(0, 7000, 128):
                j = p[i:i + 128]
                out = net(Xtr[j])
                if tau is not None:
                    out = out / ((out.norm(p=2, dim=-1, keepdim=True) + 1e-7) * tau)
                loss = F.cross_entropy(out, Ytr[j])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        with torch.no_grad():
            acc = (net(Xte).argmax(1) == Yte).float().mean().item()
        print(f"{'ce' if tau is None else f'logitnorm tau {tau}'}: last loss {loss.item():.3f}, test accuracy {acc:.4f}", flush=True)


if __name__ == '__main__':
    main()
