"""Each fold chooses its use on validation (pooled IoU, ties to the earlier/simpler use) among a candidate set; the
chosen uses' test counts pooled over the 5 folds give the out-of-fold pooled IoU of that candidate set."""

import sys

import pandas as pd

frames = [pd.read_csv(p) for p in sys.argv[1:]]
df = pd.concat(frames, ignore_index=True)
df["iou"] = df.inter / df.union
current = ["stage1"] + [f"{b}_{m}_p{p}" for b in ("largest", "all") for m in (0.3, 0.6) for p in (1, 2)]
sets = {
    "current 8 uses + stage1": current,
    "+ passes 3": current + [f"{b}_{m}_p3" for b in ("largest", "all") for m in (0.3, 0.6)],
    "+ passes 3-4": current + [f"{b}_{m}_p{p}" for b in ("largest", "all") for m in (0.3, 0.6) for p in (3, 4)],
}
mix = sorted(u for u in df.use.unique() if u.startswith("mix"))
if mix:
    sets["+ mixes"] = current + mix
    sets["+ passes 3-4 + mixes"] = sets["+ passes 3-4"] + mix
for name, uses in sets.items():
    inter = union = 0
    chosen = []
    for f in range(5):
        d = df[(df.fold == f) & df.use.isin(uses)]
        v = d[d.role == "valid"].set_index("use").loc[[u for u in uses if u in set(d.use)]]
        best = v["iou"].idxmax()
        t = d[(d.role == "test") & (d.use == best)].iloc[0]
        inter += t.inter
        union += t.union
        chosen.append(f"{best} ({v.loc[best, 'iou']:.3f}/{t.iou:.3f})")
    print(f"{name:28s} OOF test pooled IoU {inter / union:.4f}  ", "; ".join(chosen))
pooled = df.groupby(["role", "use"])[["inter", "union"]].sum()
print((pooled.inter / pooled.union).unstack(0).round(4).sort_values("valid", ascending=False).head(12).to_string())
