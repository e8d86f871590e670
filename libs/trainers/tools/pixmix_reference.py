"""Pillow reference outputs of the AugMix/PixMix base operations for oodkit's tests, and the PixMix
mixing rule (add / multiply) on fixed coefficients.

    /usr/bin/python3 libs/trainers/tools/pixmix_reference.py

writes libs/trainers/tests/fixtures/pixmix-reference.json (Debian's python3-pil and python3-numpy).
"""
import json
import os

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)


def image(h, w, c):
    # smooth content plus noise, so histograms and interpolation are not trivial
    yy, xx = np.mgrid[0:h, 0:w]
    base = 40 + 150 * (np.sin(xx / 2.0 + yy / 3.0) * 0.5 + 0.5)
    arr = np.stack([base + rng.integers(-40, 40, size=(h, w)) + 20 * k for k in range(c)], axis=-1)
    return np.clip(arr, 0, 255).astype(np.uint8)


def pil(arr):
    return Image.fromarray(arr[:, :, 0], 'L') if arr.shape[2] == 1 else Image.fromarray(arr, 'RGB')


def back(im, c):
    a = np.asarray(im)
    return (a[:, :, None] if c == 1 else a).reshape(-1).tolist()


ops = {
    'autocontrast': lambda im: ImageOps.autocontrast(im),
    'equalize': lambda im: ImageOps.equalize(im),
    'posterize3': lambda im: ImageOps.posterize(im, 3),
    'solarize180': lambda im: ImageOps.solarize(im, 180),
    'rotate17': lambda im: im.rotate(17, resample=Image.BILINEAR),
    'rotate-29': lambda im: im.rotate(-29, resample=Image.BILINEAR),
    'shear_x0.21': lambda im: im.transform(im.size, Image.AFFINE, (1, 0.21, 0, 0, 1, 0), resample=Image.BILINEAR),
    'shear_y-0.13': lambda im: im.transform(im.size, Image.AFFINE, (1, 0, 0, -0.13, 1, 0), resample=Image.BILINEAR),
    'translate_x3': lambda im: im.transform(im.size, Image.AFFINE, (1, 0, 3, 0, 1, 0), resample=Image.BILINEAR),
    'translate_y-2': lambda im: im.transform(im.size, Image.AFFINE, (1, 0, 0, 0, 1, -2), resample=Image.BILINEAR),
    'color0.37': lambda im: ImageEnhance.Color(im).enhance(0.37),
    'contrast0.52': lambda im: ImageEnhance.Contrast(im).enhance(0.52),
    'brightness0.21': lambda im: ImageEnhance.Brightness(im).enhance(0.21),
    'sharpness0.44': lambda im: ImageEnhance.Sharpness(im).enhance(0.44),
}

cases = []
for (h, w, c) in [(8, 8, 1), (7, 9, 3), (28, 28, 1)]:
    arr = image(h, w, c)
    cases.append({'h': h, 'w': w, 'c': c, 'input': arr.reshape(-1).tolist(),
                  'outputs': {name: back(fn(pil(arr)), c) for name, fn in ops.items()}})

# the mixing rule on [0, 1] floats (float32 as the reference's tensors): add and multiply
x1 = rng.uniform(0, 1, size=12).astype(np.float32)
x2 = rng.uniform(0, 1, size=12).astype(np.float32)
mix = []
for a, b in [(0.7, 0.2), (1.4, -0.3)]:
    a32, b32 = np.float32(a), np.float32(b)
    add = ((a32 * (x1 * 2 - 1) + b32 * (x2 * 2 - 1)) + 1) / 2
    mul = ((x1 * 2) ** a32) * (np.clip(x2 * 2, 1e-37, None) ** b32) / 2
    mix.append({'a': a, 'b': b, 'add': add.tolist(), 'multiply': mul.tolist()})

out = os.path.join(here, '..', 'tests', 'fixtures', 'pixmix-reference.json')
with open(out, 'w') as f:
    json.dump({'cases': cases, 'x1': x1.tolist(), 'x2': x2.tolist(), 'mix': mix}, f)
    f.write('\n')
print('wrote', os.path.normpath(out))
