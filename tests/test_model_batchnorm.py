"""BatchNorm running statistics re-estimated on clean training patches."""

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.data import open_pcam
from reportgen.model.batchnorm import batchnorm_layers, recalibrate_batchnorm


@pytest.fixture
def train_split(tiny_pcam):
    with open_pcam(tiny_pcam, splits=("train",)) as data:
        yield data.split("train")


def _pixel_model():
    """1x1 convolution with fixed weights followed by BatchNorm: the BN input is easy to recompute."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, kernel_size=1, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(4))


def test_statistics_become_the_average_over_the_chosen_patches(train_split):
    model = _pixel_model()
    layer = model[1]
    layer.running_mean.fill_(123.0)
    layer.running_var.fill_(456.0)
    indices = np.arange(0, 64, 2)  # 32 patches, 4 equal batches of 8

    used = recalibrate_batchnorm(model, train_split, indices=indices, n_patches=32, batch_size=8,
                                 device="cpu", channels_last=False)

    assert used == 32
    images = torch.from_numpy(train_split.read(indices).images).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        features = model[0](images)
    # Equal batch sizes: the cumulative average of batch means is the overall mean.
    expected_mean = features.mean(dim=(0, 2, 3))
    assert torch.allclose(layer.running_mean, expected_mean, atol=1e-5)
    batch_vars = torch.stack([features[i:i + 8].var(dim=(0, 2, 3), unbiased=True) for i in range(0, 32, 8)])
    assert torch.allclose(layer.running_var, batch_vars.mean(dim=0), rtol=1e-4)
    assert layer.momentum == 0.1 and not model.training


def test_zero_patches_leaves_the_statistics_alone(train_split):
    model = _pixel_model()
    model[1].running_mean.fill_(7.0)
    assert recalibrate_batchnorm(model, train_split, indices=None, n_patches=0, batch_size=8, device="cpu") == 0
    assert torch.all(model[1].running_mean == 7.0)
    assert not model.training


def test_only_the_training_indices_are_read(train_split):
    model = _pixel_model()
    used = recalibrate_batchnorm(model, train_split, indices=np.array([5, 9, 40]), n_patches=100, batch_size=2,
                                 device="cpu", channels_last=False)
    assert used == 3


def test_finds_every_batchnorm_of_a_resnet():
    from reportgen.model.network import build_model

    assert len(batchnorm_layers(build_model())) == 20
