"""OpenOOD v1.5's Evaluator (openood/evaluation_api/evaluator.py at 3c35632) re-derived on a feature folder.

What the Evaluator does, written out with torch, faiss, scipy and scikit-learn, for the methods whose
semantics oodkit's issue 14 fixed (openmax, nnguide, the ACC column) and two controls (msp; react,
whose own predictions differ from the classifier's and whose sweep is searched):
  - the "network" is the feature folder's final layer: logits = z·Wᵀ + b in torch float32, features = z;
  - every loader yields batches of 200 in dataset order (the Evaluator's defaults: batch 200, shuffle off);
  - ACC = argmax of the network's logits on ID test, written into every row (Evaluator.eval_acc);
  - with `aps`, a method whose OpenOOD config has APS_mode True is searched over its postprocessor_sweep
    (first key fastest, ID val vs OOD val AUROC, strictly greater wins, starting from 0);
  - metrics as openood/evaluators/metrics.py (sklearn roc_curve / precision_recall_curve / auc, OOD positive);
  - libMR's fit_high is replaced by scipy.stats.weibull_min.fit (floc=0) on the same translated tail.

Usage (Debian: apt-get install python3-torch python3-sklearn python3-scipy python3-faiss python3-yaml):
    /usr/bin/python3 tools/reference/openood_evaluator.py <feature folder> <out.json>
Writes, per method and for aps off/on, the rows OpenOOD prints (values x100, unrounded), the postprocessor's
own prediction accuracy (oodkit's PRED_ACC), the chosen hyperparameters and the ID test scores.
"""
import json
import os
import sys

import faiss
import numpy as np
import scipy.stats
import torch
import yaml
from scipy.special import logsumexp
from sklearn import metrics

BATCH = 200


def load_folder(folder):
    with open(os.path.join(folder, 'splits.yml')) as f:
        roles = yaml.safe_load(f)
    w = np.load(os.path.join(folder, 'fc_weight.npy')).astype(np.float32)
    b = np.load(os.path.join(folder, 'fc_bias.npy')).astype(np.float32)
    names = {roles['test'], roles['train'], roles['val'], roles['ood_val'], *roles['near'], *roles['far']}
    splits = {}
    for name in names:
        z = np.load(os.path.join(folder, f'{name}_features.npy')).astype(np.float32)
        y = np.load(os.path.join(folder, f'{name}_labels.npy')).astype(np.int64)
        splits[name] = (z, y)
    return roles, w, b, splits


class Head(torch.nn.Module):
    """The feature folder as a network: identity backbone, the stored final layer."""

    def __init__(self, w, b):
        super().__init__()
        self.fc = torch.nn.Linear(w.shape[1], w.shape[0])
        self.fc.weight.data = torch.from_numpy(w)
        self.fc.bias.data = torch.from_numpy(b)

    def forward(self, x, return_feature=False):
        logits = self.fc(x)
        return (logits, x) if return_feature else logits

    def forward_threshold(self, x, threshold):
        return self.fc(x.clip(max=threshold))


def batches(split):
    z, y = split
    for s in range(0, len(z), BATCH):
        yield torch.from_numpy(z[s:s + BATCH]), torch.from_numpy(y[s:s + BATCH])


def inference(method, net, split):
    preds, confs, labels = [], [], []
    with torch.no_grad():
        for x, y in batches(split):
            pred, conf = method.postprocess(net, x)
            preds.append(np.asarray(pred))
            confs.append(np.asarray(conf, dtype=np.float64))
            labels.append(y.numpy())
    return np.concatenate(preds), np.concatenate(confs), np.concatenate(labels)


def all_metrics(conf, label, pred):
    ood = (label == -1).astype(np.int64)
    fpr, tpr, _ = metrics.roc_curve(ood, -conf)
    p_in, r_in, _ = metrics.precision_recall_curve(1 - ood, conf)
    p_out, r_out, _ = metrics.precision_recall_curve(ood, -conf)
    idm = label != -1
    return [fpr[np.argmax(tpr >= 0.95)], metrics.auc(fpr, tpr), metrics.auc(r_in, p_in), metrics.auc(r_out, p_out),
            np.sum(pred[idm] == label[idm]) / idm.sum()]


class Msp:
    sweep = None

    def setup(self, net, splits, roles):
        pass

    def postprocess(self, net, x):
        score = torch.softmax(net(x), dim=1)
        conf, pred = torch.max(score, dim=1)
        return pred, conf


class React:
    sweep = {'percentile': [85, 90, 95, 99]}

    def __init__(self):
        self.percentile = 90

    def setup(self, net, splits, roles):
        feats = [net(x, return_feature=True)[1].numpy() for x, _ in batches(splits[roles['val']])]
        self.activation_log = np.concatenate(feats)
        self.set({'percentile': self.percentile})

    def set(self, values):
        self.percentile = values['percentile']
        self.threshold = np.percentile(self.activation_log.flatten(), self.percentile)

    def get(self):
        return {'percentile': self.percentile}

    def postprocess(self, net, x):
        out = net.forward_threshold(x, self.threshold)
        _, pred = torch.max(torch.softmax(out, dim=1), dim=1)
        return pred, torch.logsumexp(out, dim=1)


class OpenMax:
    """libMR fit_high: tail translated so its smallest value sits at 10000, 2-parameter Weibull MLE; w_score = CDF."""
    sweep = None
    alpha, threshold, tail = 3, 0.9, 20

    def setup(self, net, splits, roles):
        x, y = splits[roles['train']]
        c = net.fc.weight.shape[0]
        self.nc = c
        scores = [[] for _ in range(c)]
        for xb, yb in batches((x, y)):
            out = net(xb).numpy()
            for s, t in zip(out, yb.numpy()):
                if s.argmax() == t:
                    scores[t].append(s)
        self.models = []
        for k in range(c):
            rows = np.array(scores[k])
            mav = rows.mean(axis=0)
            dists = np.array([np.linalg.norm(mav.astype(np.float64) - r.astype(np.float64)) for r in rows])
            tail = np.sort(dists)[-self.tail:]
            small = tail[0]
            shape, _, scale = scipy.stats.weibull_min.fit(tail + 10000 - small, floc=0)
            self.models.append((mav, shape, scale, small))

    def postprocess(self, net, x):
        scores = net(x).numpy()
        preds, confs = [], []
        for s in scores:
            ranked = s.argsort()[::-1][:self.alpha]
            omega = np.zeros(self.nc)
            omega[ranked] = [((self.alpha + 1) - i) / float(self.alpha) for i in range(1, self.alpha + 1)]
            hat, removed = [], []
            for k, (mav, shape, scale, small) in enumerate(self.models):
                d = np.linalg.norm(mav.astype(np.float64) - s.astype(np.float64))
                w = scipy.stats.weibull_min.cdf(d + 10000 - small, shape, loc=0, scale=scale)
                hat.append(s[k] * (1 - w * omega[k]))
                removed.append(s[k] - hat[-1])
            known = np.exp(np.array(hat, dtype=np.float64))
            unknown = np.exp(np.sum(removed))
            probs = np.concatenate([known, [unknown]]) / (known.sum() + unknown)
            preds.append(np.argmax(probs) if np.max(probs) >= self.threshold else self.nc - 1)
            confs.append(-probs[-1])
        return np.array(preds), np.array(confs)


def normalizer(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True) + 1e-10


class NNGuide:
    sweep = None  # OpenOOD: APS_mode False (its sweep lists one value per key)
    K, alpha = 100, 0.01

    def setup(self, net, splits, roles):
        train = splits[roles['train']]
        feas, logits = [], []
        for x, _ in batches(train):
            logit, feature = net(x, return_feature=True)
            feas.append(normalizer(feature.numpy()))
            logits.append(logit.numpy())
            if len(feas) * BATCH > int(len(train[0]) * self.alpha):
                break
        bank = np.concatenate(feas) * logsumexp(np.concatenate(logits), axis=-1)[:, None]
        self.index = faiss.IndexFlatIP(bank.shape[-1])
        self.index.add(np.ascontiguousarray(bank, dtype=np.float32))
        self.bank_size = len(bank)

    def postprocess(self, net, x):
        logit, feature = net(x, return_feature=True)
        d, _ = self.index.search(np.ascontiguousarray(normalizer(feature.numpy()), dtype=np.float32), self.K)
        score = d.mean(axis=1) * logsumexp(logit.numpy(), axis=-1)
        _, pred = torch.max(torch.softmax(logit, dim=1), dim=1)
        return pred, score


def combinations(sweep):
    combos = [{}]
    for key, values in sweep.items():  # later keys are outer loops: the first key varies fastest
        combos = [{**c, key: v} for v in values for c in combos]
    return combos


@torch.no_grad()
def evaluate(method, net, roles, splits, aps):
    method.setup(net, splits, roles)
    chosen = None
    if aps and method.sweep:
        best, best_auroc = None, 0
        for values in combinations(method.sweep):
            method.set(values)
            ip, ic, il = inference(method, net, splits[roles['val']])
            op, oc, ol = inference(method, net, splits[roles['ood_val']])
            auroc = all_metrics(np.concatenate([ic, oc]), np.concatenate([il, -np.ones_like(ol)]), np.concatenate([ip, op]))[1]
            if auroc > best_auroc:
                best, best_auroc = values, auroc
        method.set(best)
        chosen = best
    id_acc = float(np.mean(np.concatenate([net(x).argmax(1).numpy() for x, _ in batches(splits[roles['test']])])
                           == splits[roles['test']][1]))
    ip, ic, il = inference(method, net, splits[roles['test']])
    rows = {}
    for group, names in (('nearood', roles['near']), ('farood', roles['far'])):
        group_rows = []
        for name in names:
            op, oc, ol = inference(method, net, splits[name])
            m = all_metrics(np.concatenate([ic, oc]), np.concatenate([il, -np.ones_like(ol)]), np.concatenate([ip, op]))
            group_rows.append(m)
            rows[name] = m
        rows[group] = list(np.mean(np.array(group_rows), axis=0))
    out = {}
    for name, (fpr, auroc, aupr_in, aupr_out, pred_acc) in rows.items():
        out[name] = {'FPR@95': 100 * fpr, 'AUROC': 100 * auroc, 'AUPR_IN': 100 * aupr_in, 'AUPR_OUT': 100 * aupr_out,
                     'ACC': 100 * id_acc, 'PRED_ACC': 100 * pred_acc}
    return {'hyperparameters': chosen, 'rows': out, 'test_conf': ic.tolist()}


def reference(folder):
    roles, w, b, splits = load_folder(folder)
    net = Head(w, b).eval()
    result = {}
    for name, make in (('msp', Msp), ('react', React), ('openmax', OpenMax), ('nnguide', NNGuide)):
        result[name] = {'plain': evaluate(make(), net, roles, splits, False), 'aps': evaluate(make(), net, roles, splits, True)}
    return result


if __name__ == '__main__':
    torch.set_num_threads(1)
    folder, out = sys.argv[1], sys.argv[2]
    with open(out, 'w') as f:
        json.dump(reference(folder), f)
    print('wrote', out)
