"""bf16 autocast where the device runs it natively: emulated bf16 on a CPU without avx512_bf16 or AMX made the
study 2-3 times slower than fp32."""

import numpy as np
import pytest
import torch

from buslib.data.loaders import build_dataloaders
from buslib.infer import torch_paths
from buslib.infer.torch_paths import BF16_ENV, describe_bf16, native_bf16, use_bf16
from buslib.train.classification import cls_learner, get_cls_recipe
from buslib.train.fitting import fit

CPU = torch.device("cpu")


@pytest.fixture
def cpu_flags(monkeypatch):
    """Set the CPU flags `native_bf16` sees; $BUSLIB_BF16 unset."""
    monkeypatch.delenv(BF16_ENV, raising=False)
    return lambda *flags: monkeypatch.setattr(torch_paths, "_cpu_flags", lambda: {"avx2", "avx512f", *flags})


@pytest.mark.parametrize("flags, native", [((), False), (("avx512_bf16",), True), (("amx_bf16",), True)])
def test_bf16_is_native_only_on_cpus_with_avx512_bf16_or_amx(cpu_flags, flags, native):
    cpu_flags(*flags)
    assert native_bf16(CPU) is native and use_bf16(CPU) is native
    assert describe_bf16(CPU).startswith("on" if native else "off")


def test_an_explicit_choice_and_the_environment_override_the_cpu_flags(cpu_flags, monkeypatch):
    cpu_flags()
    assert use_bf16(CPU, True) and not use_bf16(CPU, False)
    monkeypatch.setenv(BF16_ENV, "1")
    assert use_bf16(CPU) and describe_bf16(CPU) == f"on (${BF16_ENV}=1)" and not use_bf16(CPU, False)
    monkeypatch.setenv(BF16_ENV, "yes")
    with pytest.raises(ValueError, match=f"{BF16_ENV}='yes'"):
        use_bf16(CPU)


class RecordsDtype(torch.nn.Module):
    """A tiny classifier that remembers the dtype its convolution computed in."""

    def __init__(self):
        super().__init__()
        self.conv, self.head = torch.nn.Conv2d(3, 4, 3), torch.nn.Linear(4, 2)
        self.dtypes: set[torch.dtype] = set()

    def forward(self, x):
        out = self.conv(x)
        self.dtypes.add(out.dtype)
        return self.head(out.mean((2, 3)))


@pytest.mark.parametrize("flags, dtype", [((), torch.float32), (("avx512_bf16",), torch.bfloat16)])
def test_training_runs_in_bf16_only_where_the_cpu_has_it(cpu_flags, flags, dtype):
    cpu_flags(*flags)
    rng = np.random.default_rng(0)
    dls = build_dataloaders(rng.integers(0, 255, (8, 32, 32), dtype=np.uint8), np.array([0, 1] * 4), np.arange(6),
                            np.arange(6, 8), "liu", batch_size=2, device=CPU)
    learn = cls_learner(RecordsDtype(), dls, get_cls_recipe("liu"), 2, path=".")
    with learn.no_bar(), learn.no_logging():
        fit(learn, get_cls_recipe("liu"), 1)
    assert learn.model.dtypes == {dtype}
