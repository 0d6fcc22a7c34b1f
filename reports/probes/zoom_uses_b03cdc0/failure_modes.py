"""Where the two-stage system loses pooled IoU on validation lesion images (each fold's chosen use), by failure mode."""

from pathlib import Path

import pandas as pd
from common import S1, S2, busi, load  # this folder's shared setup
from scipy import ndimage

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution
from buslib.data.splits import fold_roles, fold_split, role_rows
from buslib.experiments.zoom import probability_maps, zoom_probabilities, zoom_use
from buslib.infer import predict_seg_logits

rows = []
for f in range(5):
    split = fold_split(f)
    roles = fold_roles(busi["fold"], f, 5)
    for role in ("valid", "test"):
        idx = role_rows(roles, split, keep=(busi["label"] != "normal").to_numpy())[role]
        sub = busi.iloc[idx].reset_index(drop=True)
        small = (
            load_arrays(sub, 128, progress=False).images
            if "progress" in load_arrays.__code__.co_varnames
            else load_arrays(sub, 128).images
        )
        images, masks = load_full_resolution(sub, progress=False)
        st1, st2 = load(S1[split]), load(S2[split]["state"])
        first = probability_maps(predict_seg_logits(st1, small, tta=True, progress=False), [m.shape for m in masks])
        use = zoom_use(S2[split]["use"])
        final = zoom_probabilities(st2, images, first, use, 128) if use else first
        for k, (p1, p2, m) in enumerate(zip(first, final, masks)):
            pred, pred1 = p2 > 0.5, p1 > 0.5
            inter, union = (pred & m).sum(), (pred | m).sum()
            regions, n = ndimage.label(pred1)
            if not pred1.any():
                mode = "nothing predicted"
            elif not (pred1 & m).any():
                mode = "wrong place"
            else:
                mode = "overlaps"
            rows.append(
                {
                    "fold": f,
                    "role": role,
                    "image_id": sub["image_id"][k],
                    "label": sub["label"][k],
                    "lesion_px": int(m.sum()),
                    "inter": int(inter),
                    "union": int(union),
                    "inter1": int((pred1 & m).sum()),
                    "union1": int((pred1 | m).sum()),
                    "mode": mode,
                    "regions": n,
                    "iou": inter / union,
                }
            )
    print(split, flush=True)
df = pd.DataFrame(rows)
df.to_csv(Path(__file__).with_name("failure_modes.csv"), index=False)
for role in ("valid", "test"):
    d = df[df.role == role]
    print(
        role, "pooled IoU", round(d.inter.sum() / d.union.sum(), 4), "stage1", round(d.inter1.sum() / d.union1.sum(), 4)
    )
    g = d.groupby("mode").agg(
        images=("iou", "size"), lost=("union", "sum"), inter=("inter", "sum"), mean_iou=("iou", "mean")
    )
    g["lost"] = (d.groupby("mode").apply(lambda x: (x.union - x.inter).sum()) / (d.union - d.inter).sum()).round(3)
    print(g)
    # pooled IoU if each mode were perfect (inter = union = lesion px)
    for mode in d["mode"].unique():
        e = d.copy()
        sel = e["mode"] == mode
        e.loc[sel, "inter"] = e.loc[sel, "lesion_px"]
        e.loc[sel, "union"] = e.loc[sel, "lesion_px"]
        print("  perfect", mode, round(e.inter.sum() / e.union.sum(), 4))
    big = d.lesion_px > d.lesion_px.quantile(0.75)
    print(
        "  largest quarter of lesions: share of union-loss",
        round(((d.union - d.inter)[big]).sum() / (d.union - d.inter).sum(), 3),
        "their IoU",
        round(d[big].inter.sum() / d[big].union.sum(), 4),
        "others",
        round(d[~big].inter.sum() / d[~big].union.sum(), 4),
    )
