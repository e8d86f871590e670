"""Reference values for CIDER's and NPOS's losses and NPOS's outlier synthesis (OpenOOD's formulas).

Run with Debian's python (torch): /usr/bin/python3 libs/trainers/tools/hypersphere_reference.py
Writes libs/trainers/tests/fixtures/hypersphere-reference.json. faiss's IndexFlatL2 is replaced by an
exact search returning the same squared L2 distances; np.random.choice by fixed picks.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(11)
dt = torch.float64


def lst(t):
    return t.detach().reshape(-1).tolist()


# ---- CompLoss / DisLoss with the per-sample EMA prototype update ----
C, E, N = 3, 5, 7
temp, proto_m, w = 0.1, 0.9, 2.0
raw = torch.randn(N, E, dtype=dt, requires_grad=True)
labels = torch.tensor([0, 2, 1, 0, 0, 2, 1])
prototypes0 = F.normalize(torch.randn(C, E, dtype=dt), dim=1)

features = F.normalize(raw, dim=1)
prototypes = prototypes0.clone()
for j in range(N):
    prototypes[labels[j].item()] = F.normalize(prototypes[labels[j].item()] * proto_m + features[j] * (1 - proto_m), dim=0)
updated = prototypes
# dispersion (base temperature 0.1)
logits = updated @ updated.T / temp
mask = 1 - torch.eye(C, dtype=dt)
dis = (temp / 0.1) * torch.log((mask * torch.exp(logits)).sum(1) / mask.sum(1)).mean()
# compactness against the detached prototypes (base temperature 0.07)
p = F.normalize(updated.detach(), dim=1)
fl = features @ p.T / temp
fl = fl - fl.max(1, keepdim=True)[0].detach()
log_prob = fl - torch.log(torch.exp(fl).sum(1, keepdim=True))
comp = -(temp / 0.07) * (F.one_hot(labels, C).to(dt) * log_prob).sum(1).mean()
total = w * comp + dis
(grad,) = torch.autograd.grad(total, [raw])
out = {
    'losses': {
        'C': C, 'E': E, 'temp': temp, 'proto_m': proto_m, 'w': w, 'features': lst(features), 'raw': lst(raw),
        'labels': labels.tolist(), 'prototypes0': lst(prototypes0), 'updated': lst(updated), 'dispersion': dis.item(),
        'compactness': comp.item(), 'total': total.item(), 'grad_raw': lst(grad),
    }
}


# ---- NPOS generate_outliers (exact search in place of faiss) ----
def search(queries, bank, k):
    d2 = (queries ** 2).sum(1, keepdim=True) + (bank ** 2).sum(1) - 2 * queries @ bank.T
    return torch.topk(d2, k, dim=1, largest=False)[0]


S, D, L = 12, 4, 5
K, select, pick, cov, id_points = 4, 3, 2, 0.1, 2
ID = torch.randn(S, D, dtype=dt).abs()
gauss = torch.randn(L, D, dtype=dt)
picks = [2, 0]
bank = ID / torch.norm(ID, p=2, dim=1, keepdim=True)
kth = search(bank, bank, K)[:, -1]
_, minD = torch.topk(kth, select)
minD = minD[picks]
centres = torch.cat([ID[i:i + 1].repeat(L, 1) for i in minD])
targets = cov * gauss.repeat(pick, 1) + centres
normed = targets / torch.norm(targets, p=2, dim=1, keepdim=True)
k_th = search(normed, bank, K)[:, -1].view(L, -1)
_, idx = torch.topk(k_th, id_points, dim=0)
points = targets[torch.cat([i * L + idx[:, i] for i in range(idx.shape[1])])]
out['synthesis'] = {'S': S, 'D': D, 'L': L, 'K': K, 'select': select, 'pick': pick, 'cov': cov, 'id_points': id_points,
                    'id': lst(ID), 'gaussian': lst(gauss), 'picks': picks, 'points': lst(points)}

# ---- BCEWithLogits ----
x = torch.tensor([2.0, -1.0, 0.5, -3.0, 0.0], dtype=dt)
t = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0], dtype=dt)
out['bce'] = {'logits': x.tolist(), 'targets': t.tolist(), 'loss': F.binary_cross_entropy_with_logits(x, t).item()}

path = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'hypersphere-reference.json')
with open(path, 'w') as f:
    json.dump(out, f)
print('wrote', os.path.normpath(path))
