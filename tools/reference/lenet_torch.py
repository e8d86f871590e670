"""The pieces the LeNet reference scripts share: an idx-file reader and OpenOOD's LeNet (1 channel)."""
import numpy as np
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    raw = open(path, 'rb').read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(raw[3])]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * raw[3]).reshape(dims)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.b2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.b3 = nn.Sequential(nn.Conv2d(16, 120, 5), nn.ReLU())
        self.fc1 = nn.Linear(120, 84)
        self.fc = nn.Linear(84, 10)

    def forward(self, x):
        return self.fc(F.relu(self.fc1(self.b3(self.b2(self.b1(x))).flatten(1))))
