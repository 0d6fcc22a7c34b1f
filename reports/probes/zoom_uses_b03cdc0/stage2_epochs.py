"""Stage 2 trained for 8 epochs instead of the cpu profile's 4, on folds given on the command line: validation use
search and test pooled IoU of the chosen use, beside the report's 4-epoch stage 2 (both on the report's stage 1)."""

import json
import sys
from pathlib import Path

from common import S1, S2, busi, load  # this folder's shared setup

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution
from buslib.data.splits import fold_roles, fold_split, role_rows
from buslib.experiments.segmentation import pooled_iou
from buslib.experiments.zoom import probability_maps, train_zoom_stage, use_search, zoom_probabilities, zoom_use
from buslib.infer import predict_seg_logits
from buslib.train.segmentation import get_seg_recipe

folds = [int(f) for f in sys.argv[2:]] or [0]
EPOCHS = 8
lesion = (busi["label"] != "normal").to_numpy()
images, masks = load_full_resolution(busi, progress=False)
small = load_arrays(busi, 128).images


out = {}
for f in folds:
    split = fold_split(f)
    rows = role_rows(fold_roles(busi["fold"], f, 5), split, keep=lesion)
    stage1 = load(S1[split])
    maps = {role: probability_maps(predict_seg_logits(stage1, small[rows[role]], tta=True, progress=False),
                                   [masks[i].shape for i in rows[role]]) for role in ("valid", "test")}
    trained, seconds = train_zoom_stage(images, masks, rows["train"], rows["valid"], get_seg_recipe("strong"), EPOCHS,
                                        128, Path("/tmp/stage2_epochs"), f"zoom_u2netp_{split}_e{EPOCHS}")
    out[split] = {"train_minutes": seconds / 60}
    trained = load({k: v.half() if v.is_floating_point() else v for k, v in trained.state_dict().items()})  # as saved
    for name, model in (("epochs4_report", load(S2[split]["state"])), (f"epochs{EPOCHS}", trained)):
        scores = use_search(model, [images[i] for i in rows["valid"]], maps["valid"], [masks[i] for i in rows["valid"]],
                            128)
        chosen = max(scores, key=lambda n: (scores[n], n == "stage1_only"))
        use = zoom_use(chosen)
        test_images, test_masks = [images[i] for i in rows["test"]], [masks[i] for i in rows["test"]]
        final = maps["test"] if use is None else zoom_probabilities(model, test_images, maps["test"], use, 128)
        out[split][name] = {"use": chosen, "valid_iou": scores[chosen], "valid_iou_stage1": scores["stage1_only"],
                            "test_iou": pooled_iou([p > 0.5 for p in final], test_masks)}
    print(split, json.dumps(out[split]), flush=True)
    Path(__file__).with_name("stage2_epochs.json").write_text(json.dumps(out, indent=1))   # after every fold
