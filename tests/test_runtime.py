"""Device selection: what ``--device`` resolves to, and that fp32 stays fp32 on CUDA."""

import pytest
import torch

from reportgen.errors import ConfigError
from reportgen.runtime import resolve_device


@pytest.fixture
def tf32_flags():
    """Restore PyTorch's global TF32 switches after the test."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize("name", ["auto", "cuda"])
def test_cuda_device_turns_tf32_off(monkeypatch, tf32_flags, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    assert resolve_device(name) == torch.device("cuda")
    assert torch.backends.cuda.matmul.allow_tf32 is False
    assert torch.backends.cudnn.allow_tf32 is False


def test_cpu_device_leaves_tf32_settings_alone(tf32_flags):
    torch.backends.cudnn.allow_tf32 = True
    assert resolve_device("cpu") == torch.device("cpu")
    assert torch.backends.cudnn.allow_tf32 is True


def test_missing_cuda_is_a_config_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device("cuda")
