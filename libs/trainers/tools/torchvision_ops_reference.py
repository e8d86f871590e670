"""Reference outputs of torchvision 0.14's augmentation ops (PIL path) for libs/trainers' randaugment/augmix.

Run with Debian's /usr/bin/python3 (torchvision 0.14, Pillow 9). Writes
libs/trainers/tests/fixtures/torchvision-ops-reference.json: the magnitude tables of RandAugment
(31 bins) and AugMix (10 bins) for a 32x32 image, and `_apply_op` outputs on small PIL images.
"""
import json
import os

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode, autoaugment

here = os.path.dirname(os.path.abspath(__file__))
out_path = os.path.join(here, '..', 'tests', 'fixtures', 'torchvision-ops-reference.json')


def tables(space):
    return {k: (v[0].tolist() if v[0].ndim > 0 else None, bool(v[1])) for k, v in space.items()}


ra = autoaugment.RandAugment(num_ops=1, magnitude=14)
am = autoaugment.AugMix(severity=3, all_ops=True)
rng = np.random.default_rng(5)
cases = []
for (h, w, c) in [(9, 11, 3), (8, 8, 1)]:
    arr = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
    # a smooth ramp plus noise so geometric ops interpolate meaningfully
    ramp = (np.add.outer(np.arange(h) * 9, np.arange(w) * 13) % 256).astype(np.uint8)
    arr = ((arr.astype(np.int32) // 4 + ramp[:, :, None]) % 256).astype(np.uint8)
    img = Image.fromarray(arr[:, :, 0] if c == 1 else arr, 'L' if c == 1 else 'RGB')
    outputs = {}
    for name, mag in [('ShearX', 0.21), ('ShearX', -0.3), ('ShearY', 0.13), ('TranslateX', 3.7), ('TranslateX', -2.2),
                      ('TranslateY', 2.9), ('Rotate', 17.0), ('Rotate', -29.0), ('Brightness', 0.6), ('Brightness', -0.45),
                      ('Color', 0.8), ('Color', -0.3), ('Contrast', 0.9), ('Contrast', -0.6), ('Sharpness', 0.7),
                      ('Sharpness', -0.5), ('Posterize', 3.0), ('Posterize', 8.0), ('Solarize', 170.0),
                      ('AutoContrast', 0.0), ('Equalize', 0.0), ('Identity', 0.0)]:
        res = autoaugment._apply_op(img, name, mag, interpolation=InterpolationMode.BILINEAR, fill=None)
        outputs[f'{name}:{mag}'] = np.asarray(res).reshape(-1).tolist()
    cases.append({'h': h, 'w': w, 'c': c, 'input': arr.reshape(-1).tolist(), 'outputs': outputs})

with open(out_path, 'w') as f:
    json.dump({
        'randaugment31': tables(ra._augmentation_space(31, (32, 32))),
        'augmix10': tables(am._augmentation_space(10, (32, 32))),
        'cases': cases,
    }, f)
print('wrote', out_path)
