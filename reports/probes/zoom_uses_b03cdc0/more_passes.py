"""Pooled IoU of stage 2 run 1-4 passes from each box (largest region, all pixels) and margin, on the validation
and test lesion images of each fold (eval only)."""

from pathlib import Path

import pandas as pd
from common import S1, S2, busi, load  # this folder's shared setup

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution
from buslib.data.splits import fold_roles, fold_split, role_rows
from buslib.experiments.zoom import probability_maps, zoom_pass
from buslib.infer import predict_seg_logits

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
        res.append(
            {
                "fold": f,
                "role": role,
                "use": "stage1",
                "inter": sum(int(((p > 0.5) & m).sum()) for p, m in zip(first, masks)),
                "union": sum(int(((p > 0.5) | m).sum()) for p, m in zip(first, masks)),
            }
        )
        for box in ("all", "largest"):
            for margin in (0.3, 0.6):
                maps = first
                for passes in range(1, 5):
                    maps = zoom_pass(st2, images, maps, box, margin, 128)
                    res.append(
                        {
                            "fold": f,
                            "role": role,
                            "use": f"{box}_{margin}_p{passes}",
                            "inter": sum(int(((p > 0.5) & m).sum()) for p, m in zip(maps, masks)),
                            "union": sum(int(((p > 0.5) | m).sum()) for p, m in zip(maps, masks)),
                        }
                    )
    print(split, S2[split]["use"], flush=True)
df = pd.DataFrame(res)
df.to_csv(Path(__file__).with_name("more_passes.csv"), index=False)
df["iou"] = df.inter / df.union
t = df.pivot_table(index="use", columns=["role", "fold"], values="iou").round(3)
print(t.to_string())
pooled = df.groupby(["role", "use"])[["inter", "union"]].sum()
print((pooled.inter / pooled.union).unstack(0).round(4).sort_values("valid").to_string())
