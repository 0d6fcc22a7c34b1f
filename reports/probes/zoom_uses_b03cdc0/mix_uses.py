"""Stage 2 over several crop contexts at once: the mean of the maps of margins 0.3 and 0.6 (box of all pixels), and
of all four box/margin pairs, 1-2 passes; validation and test lesion images of each fold (eval only)."""

from pathlib import Path

import numpy as np
import pandas as pd
from common import S1, S2, busi, load  # this folder's shared setup

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution
from buslib.data.splits import fold_roles, fold_split, role_rows
from buslib.experiments.zoom import probability_maps, zoom_pass
from buslib.infer import predict_seg_logits

MIXES = {
    "mix_all_m03_m06": [("all", 0.3), ("all", 0.6)],
    "mix_four": [("all", 0.3), ("all", 0.6), ("largest", 0.3), ("largest", 0.6)],
}
res = []
for f in range(5):
    split = fold_split(f)
    roles = fold_roles(busi["fold"], f, 5)
    st1, st2 = load(S1[split]), load(S2[split]["state"])
    for role in ("valid", "test"):
        idx = role_rows(roles, split, keep=(busi["label"] != "normal").to_numpy())[role]
        sub = busi.iloc[idx].reset_index(drop=True)
        small = load_arrays(sub, 128).images
        images, masks = load_full_resolution(sub, progress=False)
        first = probability_maps(predict_seg_logits(st1, small, tta=True, progress=False), [m.shape for m in masks])
        for name, pairs in MIXES.items():
            maps = first
            for passes in (1, 2):
                outs = [zoom_pass(st2, images, maps, box, margin, 128) for box, margin in pairs]
                maps = [np.mean(stack, axis=0) for stack in zip(*outs)]
                res.append(
                    {
                        "fold": f,
                        "role": role,
                        "use": f"{name}_p{passes}",
                        "inter": sum(int(((p > 0.5) & m).sum()) for p, m in zip(maps, masks)),
                        "union": sum(int(((p > 0.5) | m).sum()) for p, m in zip(maps, masks)),
                    }
                )
    print(split, flush=True)
pd.DataFrame(res).to_csv(Path(__file__).with_name("mix_uses.csv"), index=False)
