"""Reference values for conf_branch, rotpred and t2fnorm (OpenOOD's trainer and postprocessor math).

Run with Debian's python (torch): /usr/bin/python3 libs/trainers/tools/training_heads_reference.py
Writes libs/trainers/tests/fixtures/training-heads-reference.json. The network is linear on the
flattened 4×4×1 image (z = x), so the NHWC and NCHW flattenings agree.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(7)
dt = torch.float64
N, H, W, C = 6, 4, 4, 3
D = H * W
x = torch.randn(N, 1, H, W, dtype=dt)
y = torch.tensor([0, 1, 2, 0, 2, 1])
Wc = (0.3 * torch.randn(C, D, dtype=dt)).requires_grad_()
bc = (0.1 * torch.randn(C, dtype=dt)).requires_grad_()
u = (0.3 * torch.randn(1, D, dtype=dt)).requires_grad_()
c0 = (0.1 * torch.randn(1, dtype=dt)).requires_grad_()
R = (0.3 * torch.randn(4, D, dtype=dt)).requires_grad_()
r0 = (0.1 * torch.randn(4, dtype=dt)).requires_grad_()


def feat(images):
    return images.reshape(images.shape[0], -1)


def lst(t):
    return t.detach().reshape(-1).tolist()


out = {'x': lst(x), 'y': y.tolist(), 'W': lst(Wc), 'b': lst(bc), 'u': lst(u), 'c': lst(c0), 'R': lst(R), 'r': lst(r0)}

# --- conf_branch: ConfBranchTrainer.train_epoch with a fixed hint mask b ---
hints = torch.tensor([1., 0., 1., 1., 0., 0.], dtype=dt).view(-1, 1)
lmbda, eps = 0.1, 1e-12
z = feat(x)
pred_original = F.softmax(z @ Wc.T + bc, dim=-1)
confidence = torch.sigmoid(z @ u.T + c0)
pred_original = torch.clamp(pred_original, eps, 1 - eps)
confidence = torch.clamp(confidence, eps, 1 - eps)
onehot = F.one_hot(y, C).to(dt)
conf = confidence * hints + (1 - hints)
pred_new = torch.log(pred_original * conf.expand_as(pred_original) + onehot * (1 - conf.expand_as(onehot)))
xent = F.nll_loss(pred_new, y)
conf_loss = torch.mean(-torch.log(confidence))
total = xent + lmbda * conf_loss
gW, gu = torch.autograd.grad(total, [Wc, u])
baseline = F.nll_loss(torch.log(pred_original), y)
out['conf_branch'] = {
    'hints': lst(hints), 'lmbda': lmbda, 'total': total.item(), 'confidence_loss': conf_loss.item(),
    'grad_W': lst(gW), 'grad_u': lst(gu), 'baseline_total': baseline.item(),
    'score_conf': lst(torch.sigmoid(z @ u.T + c0)), 'score_pred': (z @ Wc.T + bc).argmax(1).tolist(),
}

# --- rotpred: RotPredTrainer loss and RotPredPostprocessor score ---
x_rot = torch.cat([x, torch.rot90(x, 1, [2, 3]), torch.rot90(x, 2, [2, 3]), torch.rot90(x, 3, [2, 3])])
y_rot = torch.cat([torch.full((N,), k) for k in range(4)]).long()
zr = feat(x_rot)
logits, logits_rot = zr @ Wc.T + bc, zr @ R.T + r0
loss = F.cross_entropy(logits[:N], y) + F.cross_entropy(logits_rot, y_rot)
gW, gR = torch.autograd.grad(loss, [Wc, R])


def kl_div(d1, d2):
    dirty = d1 * torch.log2(d1 / d2)
    return torch.sum(torch.where(d1 != 0, dirty, torch.zeros_like(d1)), axis=1)


with torch.no_grad():
    lg = logits[:N]
    cls = kl_div(torch.ones_like(lg) / C, F.softmax(lg, dim=1))
    rot = kl_div(torch.zeros_like(logits_rot).scatter_(1, y_rot.unsqueeze(1), 1), F.softmax(logits_rot, dim=1))
    score = cls - sum(torch.chunk(rot, 4, dim=0)) / 4.0
out['rotpred'] = {
    'x_rot': lst(x_rot.permute(0, 2, 3, 1)), 'loss': loss.item(), 'grad_W': lst(gW), 'grad_R': lst(gR),
    'score': lst(score), 'pred': lg.argmax(1).tolist(),
}

# --- t2fnorm: T2FNormNet.forward (training) and forward_ood_inference + MSP ---
tau = 0.25
train_logits = F.normalize(z, dim=-1) / tau @ Wc.T + bc
loss = F.cross_entropy(train_logits, y)
(gW,) = torch.autograd.grad(loss, [Wc])
with torch.no_grad():
    inference = (z / tau) @ Wc.T + bc
    conf_t, pred_t = torch.max(torch.softmax(inference, dim=1), dim=1)
out['t2fnorm'] = {'tau': tau, 'train_logits': lst(train_logits), 'loss': loss.item(), 'grad_W': lst(gW),
                  'conf': lst(conf_t), 'pred': pred_t.tolist()}

path = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'training-heads-reference.json')
with open(path, 'w') as f:
    json.dump(out, f)
print('wrote', os.path.normpath(path))
