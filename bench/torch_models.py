"""greenai's models in PyTorch, layer for layer as crates/greenai-nn/src/models/mod.rs builds them,
for the PyTorch sides of the benchmarks. Import with `sys.path.insert(0, <bench dir>)`."""
import torch

nn = torch.nn


class LightweightNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 28 * 28, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def conv_bn(cin, cout, k, stride, groups, act):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(act())
    return nn.Sequential(*layers)


def mobilenet():
    layers = [conv_bn(1, 16, 3, 1, 1, nn.ReLU6)]
    cin = 16
    for cout, stride in [(32, 2), (64, 2), (64, 1), (128, 2)]:
        layers += [conv_bn(cin, cin, 3, stride, cin, nn.ReLU6), conv_bn(cin, cout, 1, 1, 1, nn.ReLU6)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))


class ShuffleUnit(nn.Module):
    def __init__(self, cin, cout, stride, groups=3):
        super().__init__()
        self.stride, self.groups = stride, groups
        main_out = cout - cin if stride == 2 else cout
        mid = cout // 4
        self.g1 = conv_bn(cin, mid, 1, 1, groups, nn.ReLU)
        self.dw = conv_bn(mid, mid, 3, stride, mid, None)
        self.g2 = conv_bn(mid, main_out, 1, 1, groups, None)

    def forward(self, x):
        y = self.g1(x)
        n, c, h, w = y.shape
        y = y.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)
        y = self.g2(self.dw(y))
        if self.stride == 2:
            return torch.relu(torch.cat([y, nn.functional.avg_pool2d(x, 3, 2, 1)], 1))
        return torch.relu(y + x)


def shufflenet():
    units = [ShuffleUnit(24, 48, 2), ShuffleUnit(48, 48, 1), ShuffleUnit(48, 48, 1),
             ShuffleUnit(48, 96, 2), ShuffleUnit(96, 96, 1)]
    return nn.Sequential(conv_bn(1, 24, 3, 2, 1, nn.ReLU), *units, nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(96, 10))


def lenet():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


MODELS = {"lightweight": LightweightNet, "mobilenet": mobilenet, "shufflenet": shufflenet, "cnn": cnn, "lenet": lenet}


def fold_batchnorm(model):
    """Folds every BatchNorm2d into the convolution before it, in place, as greenai's
    `Model::folded` does for inference: w' = w·γ/σ, b' = (b − μ)·γ/σ + β with σ = √(var + ε).
    Every BatchNorm here follows its convolution inside one nn.Sequential (`conv_bn`)."""
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)):
                continue
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
            with torch.no_grad():
                conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
                conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias)
            seq[i + 1] = nn.Identity()
    return model
