#!/usr/bin/python3
"""OpenOOD's evaluation of a PyTorch checkpoint from PNG image lists, for `oodkit eval`'s agreement test.

Builds a tiny data root in OpenOOD's layout (PNG images under `data/images_classic/<set>/`, image lists
`data/benchmark_imglist/<benchmark>/{train,val,test}_<id>.txt`, `val_<oodval>.txt`, `test_<ood>.txt`), a
network with OpenOOD's architecture and state_dict names (LeNet with 3 input channels, or ResNet18_32x32),
trains it briefly (SGD, seeded) and saves `torch.save(net.state_dict())`. Then evaluates it as OpenOOD v1.5's
Evaluator does: PIL decode + Convert('RGB') + Resize + CenterCrop + ToTensor + Normalize (torchvision's test
transform), batches of 200 in list order, each postprocessor's `setup` / `postprocess` written out with
OpenOOD's formulas (msp, mls, ebo, odin, gradnorm with its per-sample backward pass, react, knn with faiss,
mds and rmds with sklearn's EmpiricalCovariance, gen, vim), ACC = argmax of the network's logits on ID test in
every row, and metrics from tools/reference/openood_evaluator.py (sklearn, OOD positive). Each method uses its
OpenOOD default hyperparameters (configs/postprocessors/<name>.yml); no APS.

Writes into --out: data/, benchmark.yml (the same benchmark as an oodkit config), <arch>.pth, reference.json
(per method: rows as OpenOOD prints them, values ×100, unrounded).

Usage (Debian: python3-torch python3-torchvision python3-sklearn python3-faiss python3-pil):
    /usr/bin/python3 tools/reference/openood_checkpoint_reference.py --arch lenet --out <dir> [--steps 150]
    /usr/bin/python3 tools/reference/openood_checkpoint_reference.py --arch resnet18_32x32 --out <dir> [--steps 40]
"""
import argparse
import json
import os
import sys

import faiss
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from sklearn.covariance import EmpiricalCovariance
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from openood_evaluator import all_metrics  # noqa: E402  (sklearn metrics exactly as OpenOOD's metrics.py)

BATCH = 200

# ---------------------------------------------------------------- networks (OpenOOD's names)


class LeNet(nn.Module):
    def __init__(self, num_classes, channels=3):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(nn.Conv2d(16, 120, 5), nn.ReLU())
        self.classifier1 = nn.Linear(120, 84)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(84, num_classes)

    def features(self, x):
        return self.relu(self.classifier1(self.block3(self.block2(self.block1(x))).flatten(1)))

    def forward(self, x, return_feature=False):
        z = self.features(x)
        return (self.fc(z), z) if return_feature else self.fc(z)

    def forward_threshold(self, x, threshold):
        return self.fc(self.features(x).clip(max=threshold))


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.shortcut(x))


class ResNet18_32x32(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for i, (planes, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
            setattr(self, f'layer{i + 1}', nn.Sequential(BasicBlock(cin, planes, stride), BasicBlock(planes, planes, 1)))
            cin = planes
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def features(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        return self.avgpool(h).view(h.shape[0], -1)

    def forward(self, x, return_feature=False):
        z = self.features(x)
        return (self.fc(z), z) if return_feature else self.fc(z)

    def forward_threshold(self, x, threshold):
        return self.fc(self.features(x).clip(max=threshold))


# ---------------------------------------------------------------- the data root

ARCHS = {
    # image size, benchmark id, normalisation (OpenOOD's mnist / cifar10 values), mode of ID images
    'lenet': dict(size=28, bench='mnist_tiny', mean=[0.1307] * 3, std=[0.3081] * 3, mode='L'),
    'resnet18_32x32': dict(size=32, bench='cifar_tiny', mean=[0.4914, 0.4822, 0.4465], std=[0.2470, 0.2435, 0.2616], mode='RGB'),
}
NUM_CLASSES = 4
COUNTS = dict(train=52, val=12, test=24, ood=12)


def class_image(rng, k, size, mode):
    """A bright square in quadrant k (jittered) on a dark, faintly noisy background; colour by class for RGB."""
    img = rng.integers(0, 90, size=(size, size, 3)).astype(np.float64)
    s = size // 3
    oy = (k // 2) * (size // 2) + rng.integers(0, size // 2 - s + 1)
    ox = (k % 2) * (size // 2) + rng.integers(0, size // 2 - s + 1)
    colour = np.array([[255, 90, 60], [60, 255, 90], [90, 60, 255], [230, 230, 80]][k]) if mode == 'RGB' else np.full(3, 255)
    img[oy:oy + s, ox:ox + s] = colour * rng.uniform(0.35, 1.0)
    return img


def ood_image(rng, kind, size):
    img = rng.integers(0, 90, size=(size, size, 3)).astype(np.float64)
    if kind == 'centre':  # near: the ID square, but centred between the quadrants
        s, o = size // 3, size // 3 + rng.integers(-2, 3)
        img[o:o + s, o:o + s] = 255 * rng.uniform(0.35, 1.0)
    elif kind == 'pair':  # near: two fainter squares in diagonal quadrants
        s = size // 3
        for q in ((0, 0), (1, 1)) if rng.uniform() < 0.5 else ((0, 1), (1, 0)):
            oy, ox = q[0] * (size // 2) + 2, q[1] * (size // 2) + 2
            img[oy:oy + s, ox:ox + s] = 255 * rng.uniform(0.3, 0.7)
    elif kind == 'checker':  # OOD val
        cell = int(rng.integers(3, 6))
        yy, xx = np.mgrid[:size, :size]
        img[((yy // cell + xx // cell) % 2) == 0] += rng.uniform(100, 200)
    elif kind == 'noise':  # far
        img = rng.integers(0, 256, size=(size, size, 3)).astype(np.float64)
    elif kind == 'colour':  # far: smooth colour gradients (saved as RGB in every benchmark)
        yy, xx = np.mgrid[:size, :size] / size
        img = np.stack([255 * yy, 255 * xx, 255 * (1 - yy) * rng.uniform(0.3, 1)], -1)
    return img


def save(img, path, mode):
    arr = np.clip(np.round(img), 0, 255).astype(np.uint8)
    pil = Image.fromarray(arr, 'RGB')
    if mode == 'L':
        pil = pil.convert('L')
    pil.save(path, optimize=True)


OOD_SETS = dict(ood_val=('checker', 'val'), centre=('centre', 'near'), pair=('pair', 'near'), noise=('noise', 'far'), colour=('colour', 'far'))


def build_data(out, arch, seed):
    spec = ARCHS[arch]
    size, bench, mode = spec['size'], spec['bench'], spec['mode']
    rng = np.random.default_rng(seed)
    data = os.path.join(out, 'data')
    lists = os.path.join(data, 'benchmark_imglist', bench)
    os.makedirs(lists, exist_ok=True)
    files = {}
    for split in ('train', 'val', 'test'):
        folder = os.path.join(data, 'images_classic', f'{bench}_id', split)
        os.makedirs(folder, exist_ok=True)
        lines = []
        for i in range(COUNTS[split]):
            k = i % NUM_CLASSES
            rel = f'{bench}_id/{split}/{i:03d}.png'
            save(class_image(rng, k, size, mode), os.path.join(data, 'images_classic', rel), mode)
            lines.append(f'{rel} {k}')
        files[split] = f'{split}_{bench}.txt'
        with open(os.path.join(lists, files[split]), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    for name, (kind, role) in OOD_SETS.items():
        folder = os.path.join(data, 'images_classic', name)
        os.makedirs(folder, exist_ok=True)
        lines = []
        for i in range(COUNTS['ood']):
            rel = f'{name}/{i:03d}.png'
            save(ood_image(rng, kind, size), os.path.join(data, 'images_classic', rel), 'RGB' if kind == 'colour' else mode)
            lines.append(f'{rel} -1')
        files[name] = f'{"val" if role == "val" else "test"}_{name}.txt'
        with open(os.path.join(lists, files[name]), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    write_benchmark_yml(out, arch, files)
    return files


def write_benchmark_yml(out, arch, files):
    spec = ARCHS[arch]
    bench, size = spec['bench'], spec['size']

    def ds(name):
        return (f"{{ name: imglist, args: {{ root: images_classic, list: benchmark_imglist/{bench}/{files[name]}, "
                f"image_size: {size}, resize: pil, channels: 3 }} }}")

    roles = {role: [n for n, (_, r) in OOD_SETS.items() if r == role] for role in ('val', 'near', 'far')}
    lines = [
        f'# Written by tools/reference/openood_checkpoint_reference.py --arch {arch}: the tiny OpenOOD-layout data root',
        '# beside this file as an oodkit benchmark (paths relative to data_dir; pass --data_dir=<this folder>/data).',
        'benchmark:',
        f'  name: {bench}',
        f'  num_classes: {NUM_CLASSES}',
        f'  image_shape: [{size}, {size}, 3]',
        f"  normalization: {{ mean: {json.dumps(spec['mean'])}, std: {json.dumps(spec['std'])} }}",
        '  id:',
        *[f'    {split}: {ds(split)}' for split in ('train', 'val', 'test')],
        '  ood:',
        f"    val: {{ name: {roles['val'][0]}, dataset: {ds(roles['val'][0])} }}",
        '    near:',
        *[f'      - {{ name: {n}, dataset: {ds(n)} }}' for n in roles['near']],
        '    far:',
        *[f'      - {{ name: {n}, dataset: {ds(n)} }}' for n in roles['far']],
    ]
    with open(os.path.join(out, 'benchmark.yml'), 'w') as f:
        f.write('\n'.join(lines) + '\n')


def load_split(out, arch, files, name, label_ood):
    """OpenOOD's ImglistDataset + TestStandardPreProcessor: PIL open, convert('RGB'), Resize, CenterCrop, ToTensor, Normalize."""
    spec = ARCHS[arch]
    tf = transforms.Compose([
        transforms.Resize(spec['size'], interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.CenterCrop(spec['size']),
        transforms.ToTensor(),
        transforms.Normalize(mean=spec['mean'], std=spec['std']),
    ])
    data = os.path.join(out, 'data')
    xs, ys = [], []
    with open(os.path.join(data, 'benchmark_imglist', spec['bench'], files[name])) as f:
        for line in f.read().splitlines():
            path, label = line.split(' ')
            with Image.open(os.path.join(data, 'images_classic', path)) as img:
                xs.append(tf(img.convert('RGB')))
            ys.append(-1 if label_ood else int(label))
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64)


def batches(split):
    x, y = split
    for s in range(0, len(x), BATCH):
        yield x[s:s + BATCH], y[s:s + BATCH]


def train(net, split, steps, seed):
    torch.manual_seed(seed)
    opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
    x, y = split
    net.train()
    for _ in range(steps):
        idx = torch.randperm(len(x))[:16]
        opt.zero_grad()
        F.cross_entropy(net(x[idx]), y[idx]).backward()
        opt.step()
    net.eval()


# ---------------------------------------------------------------- postprocessors (OpenOOD v1.5 formulas)


def softmax_pred(logits):
    return torch.max(torch.softmax(logits, dim=1), dim=1)[1]


class Msp:
    sweep = None  # OpenOOD's postprocessor_sweep when APS_mode is true

    def setup(self, net, data):
        pass

    def set(self, values):
        for key, value in values.items():
            setattr(self, key, value)

    def postprocess(self, net, x):
        conf, pred = torch.max(torch.softmax(net(x), dim=1), dim=1)
        return pred, conf


class Mls(Msp):
    def postprocess(self, net, x):
        conf, pred = torch.max(net(x), dim=1)
        return pred, conf


class Ebo(Msp):
    temperature = 1
    sweep = {'temperature': [1]}

    def postprocess(self, net, x):
        logits = net(x)
        return softmax_pred(logits), self.temperature * torch.logsumexp(logits / self.temperature, dim=1)


class Gen(Msp):
    gamma, M = 0.1, 100
    sweep = {'gamma': [0.01, 0.1, 0.5, 1, 2, 5, 10], 'M': [10, 50, 100, 200, 500, 1000]}

    def postprocess(self, net, x):
        logits = net(x)
        probs = torch.softmax(logits, dim=1)
        top = torch.sort(probs, dim=1)[0][:, -self.M:]
        return torch.argmax(logits, dim=1), -torch.sum(top ** self.gamma * (1 - top) ** self.gamma, dim=1)


class Odin(Msp):
    temperature, noise = 1000, 0.0014
    sweep = {'temperature': [1, 10, 100, 1000], 'noise': [0.0014, 0.0028]}
    std = (63.0 / 255.0, 62.1 / 255.0, 66.7 / 255.0)

    def postprocess(self, net, x):
        with torch.enable_grad():
            data = x.clone().requires_grad_(True)
            output = net(data)
            labels = output.detach().argmax(axis=1)
            loss = nn.CrossEntropyLoss()(output / self.temperature, labels)
            loss.backward()
            gradient = (torch.ge(data.grad.detach(), 0).float() - 0.5) * 2
            for c in range(3):
                gradient[:, c] = gradient[:, c] / self.std[c]
            temp = torch.add(data.detach(), gradient, alpha=-self.noise)
        output = net(temp) / self.temperature
        output = output - output.max(dim=1, keepdims=True).values
        conf, pred = torch.softmax(output, dim=1).max(dim=1)
        return pred, conf


class GradNorm(Msp):
    def postprocess(self, net, x):
        logits, features = net(x, return_feature=True)
        w, b = net.fc.weight.detach(), net.fc.bias.detach()
        fc = nn.Linear(w.shape[1], w.shape[0])
        fc.weight.data[...] = w
        fc.bias.data[...] = b
        confs = []
        with torch.enable_grad():
            for z in features.detach():
                fc.zero_grad()
                targets = torch.ones((1, w.shape[0]))
                loss = torch.mean(torch.sum(-targets * F.log_softmax(fc(z[None]), dim=-1), dim=-1))
                loss.backward()
                confs.append(torch.sum(torch.abs(fc.weight.grad.data)).item())
        return torch.argmax(logits, dim=1), torch.tensor(confs, dtype=torch.float64)


class React(Msp):
    percentile = 90
    sweep = {'percentile': [85, 90, 95, 99]}

    def setup(self, net, data):
        feats = [net(x, return_feature=True)[1].numpy() for x, _ in batches(data['val'])]
        self.activation_log = np.concatenate(feats)
        self.set({'percentile': self.percentile})

    def set(self, values):
        super().set(values)
        self.threshold = np.percentile(self.activation_log.flatten(), self.percentile)

    def postprocess(self, net, x):
        out = net.forward_threshold(x, self.threshold)
        return softmax_pred(out), torch.logsumexp(out, dim=1)


def normalizer(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True) + 1e-10  # OpenOOD adds 1e-10 after dividing


class Knn(Msp):
    K = 50

    def setup(self, net, data):
        feats = [normalizer(net(x, return_feature=True)[1].numpy()) for x, _ in batches(data['train'])]
        self.index = faiss.IndexFlatL2(feats[0].shape[1])
        self.index.add(np.ascontiguousarray(np.concatenate(feats), dtype=np.float32))

    def postprocess(self, net, x):
        logits, z = net(x, return_feature=True)
        d, _ = self.index.search(np.ascontiguousarray(normalizer(z.numpy()), dtype=np.float32), self.K)
        return softmax_pred(logits), torch.from_numpy(-d[:, -1])


def train_features(net, data):
    zs, ys = [], []
    for x, y in batches(data['train']):
        zs.append(net(x, return_feature=True)[1])
        ys.append(y)
    return torch.cat(zs), torch.cat(ys)


def gaussian_scores(z, means, precision):
    scores = []
    for mean in means:
        d = z - mean
        scores.append(-torch.matmul(torch.matmul(d, precision), d.t()).diag())
    return torch.stack(scores, dim=1)


class Mds(Msp):
    def setup(self, net, data):
        z, y = train_features(net, data)
        self.means, centred = [], []
        for c in range(NUM_CLASSES):
            zc = z[y == c]
            self.means.append(zc.mean(0))
            centred.append(zc - self.means[-1].view(1, -1))
        cov = EmpiricalCovariance(assume_centered=False)
        cov.fit(torch.cat(centred).numpy().astype(np.float64))
        self.precision = torch.from_numpy(cov.precision_).float()

    def postprocess(self, net, x):
        logits, z = net(x, return_feature=True)
        return logits.argmax(1), torch.max(gaussian_scores(z, self.means, self.precision), dim=1)[0]


class Rmds(Mds):
    def setup(self, net, data):
        super().setup(net, data)
        z, _ = train_features(net, data)
        self.whole_mean = z.mean(0)
        cov = EmpiricalCovariance(assume_centered=False)
        cov.fit((z - self.whole_mean.view(1, -1)).numpy().astype(np.float64))
        self.whole_precision = torch.from_numpy(cov.precision_).float()

    def postprocess(self, net, x):
        logits, z = net(x, return_feature=True)
        background = gaussian_scores(z, [self.whole_mean], self.whole_precision)
        return logits.argmax(1), torch.max(gaussian_scores(z, self.means, self.precision) - background, dim=1)[0]


METHODS = dict(msp=Msp, mls=Mls, ebo=Ebo, gen=Gen, odin=Odin, gradnorm=GradNorm, react=React, knn=Knn, mds=Mds, rmds=Rmds)


def inference(method, net, split):
    preds, confs, labels = [], [], []
    for x, y in batches(split):
        pred, conf = method.postprocess(net, x)
        preds.append(np.asarray(pred))
        confs.append(np.asarray(conf, dtype=np.float64))
        labels.append(y.numpy())
    return np.concatenate(preds), np.concatenate(confs), np.concatenate(labels)


def combinations(sweep):
    combos = [{}]
    for key, values in sweep.items():  # later keys are outer loops: the first key varies fastest
        combos = [{**c, key: v} for v in values for c in combos]
    return combos


def aps(method, net, data):
    """OpenOOD's hyperparameter search: ID val vs OOD val AUROC, strictly greater wins, starting from 0."""
    best, best_auroc, trials = None, 0, []
    for values in combinations(method.sweep):
        method.set(values)
        ip, ic, il = inference(method, net, data['val'])
        op, oc, ol = inference(method, net, data['ood_val'])
        auroc = all_metrics(np.concatenate([ic, oc]), np.concatenate([il, ol]), np.concatenate([ip, op]))[1]
        trials.append({'values': values, 'valAuroc': 100 * auroc})
        if auroc > best_auroc:
            best, best_auroc = values, auroc
    method.set(best)
    return best, trials


@torch.no_grad()
def evaluate(net, data, roles, with_aps):
    test_x, test_y = data['test']
    acc = float((torch.cat([net(x).argmax(1) for x, _ in batches(data['test'])]) == test_y).float().mean())
    result = {}
    for name, make in METHODS.items():
        method = make()
        if with_aps and not method.sweep:
            continue
        method.setup(net, data)
        chosen, trials = aps(method, net, data) if with_aps else (None, None)
        ip, ic, il = inference(method, net, data['test'])
        rows = {}
        for group, names in (('nearood', roles['near']), ('farood', roles['far'])):
            group_rows = []
            for ood in names:
                op, oc, ol = inference(method, net, data[ood])
                m = all_metrics(np.concatenate([ic, oc]), np.concatenate([il, ol]), np.concatenate([ip, op]))
                group_rows.append(m)
                rows[ood] = m
            rows[group] = list(np.mean(np.array(group_rows), axis=0))
        result[name] = {
            'rows': {k: {'FPR@95': 100 * v[0], 'AUROC': 100 * v[1], 'AUPR_IN': 100 * v[2], 'AUPR_OUT': 100 * v[3],
                         'ACC': 100 * acc, 'PRED_ACC': 100 * v[4]} for k, v in rows.items()},
            'test_conf': ic.tolist(),
            **({'hyperparameters': chosen, 'trials': trials} if with_aps else {}),
        }
        print(f"{name:9s}{' aps' if with_aps else ''} near AUROC {result[name]['rows']['nearood']['AUROC']:.2f} far AUROC {result[name]['rows']['farood']['AUROC']:.2f}")
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--arch', choices=sorted(ARCHS), required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--steps', type=int, default=40, help='SGD steps of batch 16 (0: random init)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    files = build_data(args.out, args.arch, args.seed)
    data = {name: load_split(args.out, args.arch, files, name, name not in ('train', 'val', 'test')) for name in files}
    roles = {role: [n for n, (_, r) in OOD_SETS.items() if r == role] for role in ('near', 'far')}
    torch.manual_seed(args.seed)
    net = LeNet(NUM_CLASSES) if args.arch == 'lenet' else ResNet18_32x32(NUM_CLASSES)
    train(net, data['train'], args.steps, args.seed)
    torch.save(net.state_dict(), os.path.join(args.out, f'{args.arch}.pth'))
    # APS: the methods whose OpenOOD config searches a sweep, except knn, whose K list (50..1000) exceeds this
    # tiny train set: faiss then returns missing neighbours (oodkit caps K at the train size; decisions.md).
    reference = {'arch': args.arch, 'steps': args.steps, 'seed': args.seed, 'methods': evaluate(net, data, roles, False),
                 'aps': evaluate(net, data, roles, True)}
    with open(os.path.join(args.out, 'reference.json'), 'w') as f:
        json.dump(reference, f, indent=1)
    print('wrote', args.out)


if __name__ == '__main__':
    main()
