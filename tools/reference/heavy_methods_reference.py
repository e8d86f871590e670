#!/usr/bin/python3
"""OpenOOD v1.5's heavy feature-based postprocessors (knn, relation, nnguide, mds, vim, rmds) on
saved features, timed: the reference side of tools/bench/heavy-methods.ts.

The formulas and library calls are those of openood/postprocessors/<name>_postprocessor.py (faiss
IndexFlatL2 / IndexFlatIP, torch matmuls, numpy / scipy / sklearn EmpiricalCovariance), applied to
features instead of a network: logits = z·Wᵀ + b in torch float32 (what the fc layer computes), and
scoring walks the scored rows in batches of --batch rows (OpenOOD's Evaluator: 200), calling each
method's postprocess body once per batch as the Evaluator does. Setup = everything OpenOOD's setup()
does after the train features exist (normalising, index building, covariances, eigendecompositions).

Thread count: OMP/OpenBLAS/MKL env (set before numpy is imported), torch.set_num_threads and
faiss.omp_set_num_threads all get --threads.

Run: /usr/bin/python3 tools/reference/heavy_methods_reference.py --features DIR --out DIR [--threads 2]
     [--methods knn,relation,nnguide,mds,vim,rmds] [--batch 200] [--knn-k 50] [--nnguide-k 100]
     [--nnguide-alpha 0.01] [--vim-dim 256] [--relation-pow 1]
DIR holds train_features.npy [N, D] float32, train_labels.npy [N] int, fc_weight.npy [C, D],
fc_bias.npy [C], scored_features.npy [M, D]. Writes <out>/reference.json and <out>/<method>_conf.npy.
"""
import argparse
import json
import os
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--features', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--methods', default='knn,relation,nnguide,mds,vim,rmds')
    p.add_argument('--batch', type=int, default=200)
    p.add_argument('--knn-k', type=int, default=50)
    p.add_argument('--nnguide-k', type=int, default=100)
    p.add_argument('--nnguide-alpha', type=float, default=0.01)
    p.add_argument('--vim-dim', type=int, default=256)
    p.add_argument('--relation-pow', type=float, default=1)
    return p.parse_args()


args = parse()
for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[var] = str(args.threads)

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import sklearn.covariance  # noqa: E402
import torch  # noqa: E402
from numpy.linalg import norm, pinv  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

torch.set_num_threads(args.threads)
faiss.omp_set_num_threads(args.threads)

# OpenOOD's knn / nnguide normaliser (the + 1e-10 applies to every coordinate, as there).
normalizer = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True) + 1e-10  # noqa: E731


def load(name):
    return np.load(os.path.join(args.features, name))


train = load('train_features.npy').astype(np.float32)
labels = torch.from_numpy(load('train_labels.npy').astype(np.int64))
weight = load('fc_weight.npy').astype(np.float32)
bias = load('fc_bias.npy').astype(np.float32)
scored = load('scored_features.npy').astype(np.float32)
w_t = torch.from_numpy(weight)
b_t = torch.from_numpy(bias)
num_classes = weight.shape[0]


def fc(z):
    """The network's last layer on float32 torch features."""
    return torch.nn.functional.linear(z, w_t, b_t)


def batches():
    for start in range(0, scored.shape[0], args.batch):
        yield torch.from_numpy(scored[start:start + args.batch])


# --- knn (KNNPostprocessor) -------------------------------------------------------------------
def knn():
    state = {}

    def setup():
        bank = normalizer(train)
        state['index'] = faiss.IndexFlatL2(train.shape[1])
        state['index'].add(bank)

    def postprocess(feature):
        output = fc(feature)
        feature_normed = normalizer(feature.numpy())
        D, _ = state['index'].search(feature_normed, args.knn_k)
        kth_dist = -D[:, -1]
        _, pred = torch.max(torch.softmax(output, dim=1), dim=1)
        return torch.from_numpy(kth_dist)

    return setup, postprocess


# --- relation (RelationPostprocessor, Neural-Relation-Graph code) -----------------------------
def relation():
    from math import ceil
    state = {}

    def normalize(feat, nc=50000):
        split = ceil(len(feat) / nc)
        for i in range(split):
            feat_ = feat[i * nc:(i + 1) * nc]
            feat[i * nc:(i + 1) * nc] = feat_ / torch.sqrt((feat_**2).sum(-1) + 1e-10).reshape(-1, 1)
        return feat

    def kernel(feat, feat_t, prob, prob_t, split=2):
        size = ceil(len(feat_t) / split)
        rel_full = []
        for i in range(split):
            feat_t_ = feat_t[i * size:(i + 1) * size]
            prob_t_ = prob_t[i * size:(i + 1) * size]
            dot = torch.matmul(feat, feat_t_.transpose(1, 0))
            dot = torch.clamp(dot, min=0.)
            sim = torch.matmul(prob, prob_t_.transpose(1, 0))
            rel_full.append(dot * sim)
        return torch.cat(rel_full, dim=-1)

    def get_relation(feat, feat_t, prob, prob_t, pow=1, chunk=50, thres=0.03):
        n = feat.shape[0]
        score = []
        for i in range(ceil(n / chunk)):
            rel = kernel(feat[i * chunk:(i + 1) * chunk], feat_t, prob[i * chunk:(i + 1) * chunk], prob_t)
            mask = (rel.abs() > thres)
            rel_mask = mask * rel
            edge_sum = (rel_mask.sign() * (rel_mask.abs()**pow)).sum(-1)
            score.append(edge_sum.cpu())
        return torch.cat(score, dim=0)

    def setup():
        z = torch.from_numpy(train.copy())
        prob = torch.softmax(fc(z), dim=1)
        state['feat'] = normalize(z)
        state['prob'] = prob

    def postprocess(feature):
        output = fc(feature)
        feature = normalize(feature.clone())
        prob = torch.softmax(output, dim=1)
        return get_relation(feature, state['feat'], prob, state['prob'], pow=args.relation_pow)

    return setup, postprocess


# --- nnguide (NNGuidePostprocessor) ------------------------------------------------------------
def nnguide():
    from copy import deepcopy
    state = {}

    def knn_score(bankfeas, queryfeas, k=100):
        bankfeas = deepcopy(np.array(bankfeas))
        queryfeas = deepcopy(np.array(queryfeas))
        index = faiss.IndexFlatIP(bankfeas.shape[-1])
        index.add(bankfeas)
        D, _ = index.search(queryfeas, k)
        return np.array(D.mean(axis=1))

    def setup():
        # OpenOOD's loop over train batches (the Evaluator's loader: batch 200, no shuffle).
        bank_feas, bank_logits = [], []
        n = train.shape[0]
        for start in range(0, n, 200):
            z = torch.from_numpy(train[start:start + 200])
            bank_feas.append(normalizer(z.numpy()))
            bank_logits.append(fc(z).numpy())
            if len(bank_feas) * 200 > int(n * args.nnguide_alpha):
                break
        bank_feas = np.concatenate(bank_feas, axis=0)
        bank_confs = logsumexp(np.concatenate(bank_logits, axis=0), axis=-1)
        state['bank_guide'] = bank_feas * bank_confs[:, None]

    def postprocess(feature):
        logit = fc(feature)
        feas_norm = normalizer(feature.numpy())
        energy = logsumexp(logit.numpy(), axis=-1)
        conf = knn_score(state['bank_guide'], feas_norm, k=args.nnguide_k)
        return torch.from_numpy(conf * energy)

    return setup, postprocess


# --- mds / rmds (MDSPostprocessor, RMDSPostprocessor) ------------------------------------------
def class_statistics(all_feats):
    class_mean, centered = [], []
    for c in range(num_classes):
        class_samples = all_feats[labels.eq(c)].data
        class_mean.append(class_samples.mean(0))
        centered.append(class_samples - class_mean[c].view(1, -1))
    class_mean = torch.stack(class_mean)
    group_lasso = sklearn.covariance.EmpiricalCovariance(assume_centered=False)
    group_lasso.fit(torch.cat(centered).cpu().numpy().astype(np.float32))
    return class_mean, torch.from_numpy(group_lasso.precision_).float()


def mds():
    state = {}

    def setup():
        state['mean'], state['precision'] = class_statistics(torch.from_numpy(train))

    def postprocess(features):
        class_scores = torch.zeros((features.shape[0], num_classes))
        for c in range(num_classes):
            tensor = features.cpu() - state['mean'][c].view(1, -1)
            class_scores[:, c] = -torch.matmul(torch.matmul(tensor, state['precision']), tensor.t()).diag()
        return torch.max(class_scores, dim=1)[0]

    return setup, postprocess


def rmds():
    state = {}

    def setup():
        all_feats = torch.from_numpy(train)
        state['mean'], state['precision'] = class_statistics(all_feats)
        state['whole_mean'] = all_feats.mean(0)
        centered_data = all_feats - state['whole_mean'].view(1, -1)
        group_lasso = sklearn.covariance.EmpiricalCovariance(assume_centered=False)
        group_lasso.fit(centered_data.cpu().numpy().astype(np.float32))
        state['whole_precision'] = torch.from_numpy(group_lasso.precision_).float()

    def postprocess(features):
        tensor1 = features.cpu() - state['whole_mean'].view(1, -1)
        background = -torch.matmul(torch.matmul(tensor1, state['whole_precision']), tensor1.t()).diag()
        class_scores = torch.zeros((features.shape[0], num_classes))
        for c in range(num_classes):
            tensor = features.cpu() - state['mean'][c].view(1, -1)
            class_scores[:, c] = -torch.matmul(torch.matmul(tensor, state['precision']), tensor.t()).diag()
            class_scores[:, c] = class_scores[:, c] - background
        return torch.max(class_scores, dim=1)[0]

    return setup, postprocess


# --- vim (VIMPostprocessor) --------------------------------------------------------------------
def vim():
    from sklearn.covariance import EmpiricalCovariance
    state = {}
    w, b = weight, bias

    def setup():
        feature_id_train = train
        logit_id_train = feature_id_train @ w.T + b
        u = -np.matmul(pinv(w), b)
        ec = EmpiricalCovariance(assume_centered=True)
        ec.fit(feature_id_train - u)
        eig_vals, eigen_vectors = np.linalg.eig(ec.covariance_)
        NS = np.ascontiguousarray((eigen_vectors.T[np.argsort(eig_vals * -1)[args.vim_dim:]]).T)
        vlogit_id_train = norm(np.matmul(feature_id_train - u, NS), axis=-1)
        state.update(u=u, NS=NS, alpha=logit_id_train.max(axis=-1).mean() / vlogit_id_train.mean())

    def postprocess(feature_ood):
        logit_ood = feature_ood @ torch.from_numpy(w).T + torch.from_numpy(b)
        energy_ood = logsumexp(logit_ood.numpy(), axis=-1)
        vlogit_ood = norm(np.matmul(feature_ood.numpy() - state['u'], state['NS']), axis=-1) * state['alpha']
        return torch.from_numpy(-vlogit_ood + energy_ood)

    return setup, postprocess


METHODS = {'knn': knn, 'relation': relation, 'nnguide': nnguide, 'mds': mds, 'vim': vim, 'rmds': rmds}

os.makedirs(args.out, exist_ok=True)
results = []
for name in args.methods.split(','):
    if name not in METHODS:
        sys.exit(f'--methods: unknown method {name!r}; expected some of {", ".join(METHODS)}')
    setup, postprocess = METHODS[name]()
    t0 = time.perf_counter()
    with torch.no_grad():
        setup()
    t1 = time.perf_counter()
    with torch.no_grad():
        conf = torch.cat([postprocess(batch).reshape(-1) for batch in batches()])
    t2 = time.perf_counter()
    np.save(os.path.join(args.out, f'{name}_conf.npy'), conf.numpy().astype(np.float64))
    row = {'method': name, 'setup_s': t1 - t0, 'score_s': t2 - t1}
    results.append(row)
    print(f'{name:10s} setup {row["setup_s"]:8.2f} s  score {row["score_s"]:8.2f} s', flush=True)

with open(os.path.join(args.out, 'reference.json'), 'w') as f:
    json.dump({
        'threads': args.threads,
        'batch': args.batch,
        'train': list(train.shape),
        'scored': list(scored.shape),
        'versions': {'numpy': np.__version__, 'torch': torch.__version__, 'faiss': faiss.__version__,
                     'sklearn': sklearn.__version__},
        'results': results,
    }, f, indent=2)
