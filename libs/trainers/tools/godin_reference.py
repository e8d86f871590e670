"""G-ODIN reference values in PyTorch for oodkit's tests (godin_net, the godin trainer, the godin
postprocessor). The formulas follow OpenOOD's GodinNet / GodinTrainer / GodinPostprocessor, written
out here for a tiny fixed network so that every number can be replayed in TypeScript.

    /usr/bin/python3 libs/trainers/tools/godin_reference.py

writes libs/trainers/tests/fixtures/godin-reference.json and
libs/postprocessors/tests/fixtures/godin-reference.json (Debian's python3-torch, CPU, float64).
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240601)


def arr(*shape, scale=1.0):
    return rng.normal(0, scale, size=shape)


def rownorm(x):
    # OpenOOD: x / (||x||_2 + 1e-4), the epsilon on the norm
    return x / (x.norm(p=2, dim=1, keepdim=True) + 1e-4)


def numerators(z, w, b, similarity):
    if similarity == 'cosine':
        return rownorm(z) @ rownorm(w).T
    if similarity == 'inner':
        return z @ w.T + b
    # euclid: -mean over the feature dimension of (z - w)^2
    return -((z.unsqueeze(2) - w.T.unsqueeze(0)) ** 2).mean(1)


def batchnorm1d(t, gamma, beta, mean, var, training):
    if training:
        m = t.mean(0)
        v = t.var(0, unbiased=False)
        return (t - m) / torch.sqrt(v + 1e-5) * gamma + beta, m, t.var(0, unbiased=True)
    return (t - mean) / torch.sqrt(var + 1e-5) * gamma + beta, None, None


def tolist(t):
    return t.detach().numpy().tolist()


# ---- network + trainer fixture: backbone z = relu(flatten(x) A^T + a), x NHWC [N, 4, 4, 1] ----
N, H, W, CH, D, C = 6, 4, 4, 1, 5, 3
x = arr(N, H, W, CH)
y = np.array([0, 1, 2, 0, 1, 2])
params0 = {
    'backbone.fc1.weight': arr(D, H * W * CH, scale=0.4),
    'backbone.fc1.bias': arr(D, scale=0.1),
    'h.h.weight': arr(C, D),
    'h.h.bias': arr(C, scale=0.3),
    'g.0.weight': arr(1, D, scale=0.5),
    'g.0.bias': arr(1, scale=0.2),
    'g.1.weight': np.array([1.3]),
    'g.1.bias': np.array([0.2]),
}
buffers0 = {'g.1.running_mean': np.array([0.1]), 'g.1.running_var': np.array([0.8])}
lr, momentum, wd = 0.1, 0.9, 5e-4

net_cases = {}
for similarity in ['cosine', 'inner', 'euclid']:
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params0.items()}
    xt = torch.tensor(x)
    z = torch.relu(xt.reshape(N, -1) @ p['backbone.fc1.weight'].T + p['backbone.fc1.bias'])
    h = numerators(z, p['h.h.weight'], p['h.h.bias'], similarity)
    pre = z @ p['g.0.weight'].T + p['g.0.bias']
    bn_eval, _, _ = batchnorm1d(pre, p['g.1.weight'], p['g.1.bias'], torch.tensor(buffers0['g.1.running_mean']),
                                torch.tensor(buffers0['g.1.running_var']), False)
    g_eval = torch.sigmoid(bn_eval)
    bn_train, bmean, bvar = batchnorm1d(pre, p['g.1.weight'], p['g.1.bias'], None, None, True)
    g_train = torch.sigmoid(bn_train)
    quot_train = h / g_train
    loss = F.cross_entropy(quot_train, torch.tensor(y))
    loss.backward()
    after = {}
    for k, t in p.items():
        if similarity != 'inner' and k == 'h.h.bias':
            continue
        # first SGD step: buffer = d, Nesterov d + mu*buffer = (1 + mu) d; h gets no weight decay
        decay = 0.0 if k.startswith('h.h.') else wd
        d = t.grad + decay * t.detach()
        after[k] = tolist(t.detach() - lr * (1 + momentum) * d)
    running_mean = 0.9 * buffers0['g.1.running_mean'] + 0.1 * bmean.detach().numpy()
    running_var = 0.9 * buffers0['g.1.running_var'] + 0.1 * bvar.detach().numpy()
    net_cases[similarity] = {
        'numerators': tolist(h),
        'denominators_eval': tolist(g_eval),
        'quotients_eval': tolist(h / g_eval),
        'denominators_train': tolist(g_train),
        'loss': float(loss),
        'after_step': after,
        'running_mean': running_mean.tolist(),
        'running_var': running_var.tolist(),
    }

net_fixture = {
    'shape': [N, H, W, CH],
    'feature_dim': D,
    'num_classes': C,
    'x': x.reshape(-1).tolist(),
    'y': y.tolist(),
    'params': {k: v.reshape(-1).tolist() for k, v in params0.items()},
    'buffers': {k: v.tolist() for k, v in buffers0.items()},
    'optimizer': {'lr': lr, 'momentum': momentum, 'weight_decay': wd},
    'cases': net_cases,
}

# ---- postprocessor fixture: x NHWC [N, 3, 3, 2], z = relu(flatten(x) A^T + a), h cosine, g = sigmoid(z.u + c) ----
N2, H2, W2, C2, D2, K2 = 5, 3, 3, 2, 4, 3
x2 = arr(N2, H2, W2, C2)
A2, a2 = arr(D2, H2 * W2 * C2, scale=0.5), arr(D2, scale=0.1)
Wh, u, c = arr(K2, D2), arr(1, D2, scale=0.5), arr(1, scale=0.2)
std = [0.5, 0.25]
noise = 0.02


def decomposed(xt):
    z = torch.relu(xt.reshape(xt.shape[0], -1) @ torch.tensor(A2).T + torch.tensor(a2))
    return numerators(z, torch.tensor(Wh), None, 'cosine'), torch.sigmoid(z @ torch.tensor(u).T + torch.tensor(c))


xt = torch.tensor(x2, requires_grad=True)
hx, _ = decomposed(xt)
hx.max(dim=1).values.backward(torch.ones(N2))
sign = (torch.ge(xt.grad, 0).double() - 0.5) * 2
perturbed = xt.detach() + noise * sign / torch.tensor(std)  # channel is the last axis (NHWC)
hp, gp = decomposed(perturbed)
sm = torch.softmax(hp, dim=1)
pp_fixture = {
    'shape': [N2, H2, W2, C2],
    'x': x2.reshape(-1).tolist(),
    'A': A2.reshape(-1).tolist(),
    'a': a2.tolist(),
    'Wh': Wh.reshape(-1).tolist(),
    'u': u.reshape(-1).tolist(),
    'c': c.tolist(),
    'num_classes': K2,
    'feature_dim': D2,
    'std': std,
    'noise': noise,
    'perturbed': tolist(perturbed.reshape(-1)),
    'pred': tolist(hp.argmax(1)),
    'conf_softmax': tolist(sm.max(1).values),
    'conf_max': tolist(hp.max(1).values),
    'conf_g': tolist(gp.reshape(-1)),
    'conf_softmax_unperturbed': tolist(torch.softmax(hx.detach(), 1).max(1).values),
}

for path, data in [
    (os.path.join(here, '..', 'tests', 'fixtures', 'godin-reference.json'), net_fixture),
    (os.path.join(here, '..', '..', 'postprocessors', 'tests', 'fixtures', 'godin-reference.json'), pp_fixture),
]:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f, indent=1)
        f.write('\n')
    print('wrote', os.path.normpath(path))
