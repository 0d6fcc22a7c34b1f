"""U2NET-Lite's training step (batch 16, 128 px, bf16 autocast, channels_last, Adam) eager or under torch.compile:
`python reports/probes/compile_u2netp_probe.py eager|compile`. Output of one run each on a 2-core AMD EPYC with
avx512_bf16 and no AMX (2026-12-07, torch 2.14.1) in compile_u2netp_amd_avx512_bf16.txt."""

import sys
import time

import torch
import torch.nn.functional as F

from buslib.models.u2net import u2netp

BATCH, SIZE = 16, 128

torch.manual_seed(0)
mode = sys.argv[1]
model = u2netp().to(memory_format=torch.channels_last)
x = torch.randn(BATCH, 3, SIZE, SIZE).to(memory_format=torch.channels_last)
optimiser = torch.optim.Adam(model.parameters(), 1e-3)
forward = torch.compile(model) if mode == "compile" else model


def step() -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = forward(x)
    loss = F.binary_cross_entropy_with_logits(out.float(), torch.zeros_like(out, dtype=torch.float32))
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()


for label, digits in (("first step s", 1), ("second step s", 2)):   # the first compiles
    start = time.perf_counter()
    step()
    print(mode, label, round(time.perf_counter() - start, digits), flush=True)
start = time.perf_counter()
for _ in range(5):
    step()
print(mode, "train img/s", round(BATCH * 5 / (time.perf_counter() - start), 2), flush=True)
