"""`predict` on phantom images with untrained bundles: the plumbing, the refusals and the failures."""

import pandas as pd
from PIL import Image

from buslib.cli import main


def test_predict_writes_masks_overlays_cams_csv_and_page_and_names_a_corrupt_file(untrained_bundles, phantom_copy,
                                                                                 tmp_path, capsys):
    images = phantom_copy / "DatasetB" / "original"
    (images / "999999.png").write_bytes(b"\x89PNG broken")
    rgb = images / "000002.png"
    Image.open(rgb).convert("RGB").save(images / "colour.png")
    (images / "readme.txt").write_text("not a scan")
    out = tmp_path / "out"
    assert main(["predict", str(images), "--models", str(untrained_bundles), "--out", str(out)]) == 1
    printed = capsys.readouterr()
    assert "999999.png" in printed.err and "1 files in the folders left out" in printed.out
    table = pd.read_csv(out / "predictions.csv")
    ok = table[table["status"] == "ok"]
    assert len(table) == 15 and len(ok) == 13
    assert table.loc[table["status"] == "left out", "error"].str.contains("readme.txt: not an image file").all()
    assert table.loc[table["status"] == "failed", "error"].str.contains("999999.png").all()
    first = ok.iloc[0]
    assert Image.open(out / first["mask"]).size == (first["width"], first["height"])
    assert ((ok["prob_malignant"] >= 0) & (ok["prob_malignant"] <= 1)).all()
    assert set(ok["call"]) <= {"benign", "malignant"} and (table["classifier_run"] == "test").all()
    assert ok["lesion"].all() and ok["prob_lesion"].isna().all() and table["detector"].str.startswith("none").all()
    assert "No lesion detector came with the models." in (out / "index.html").read_text()
    assert "not a medical device" in table["note"].iloc[0]
    page = (out / "index.html").read_text()
    assert page.count('class="card"') == 13 and "999999.png" in page and "readme.txt" in page and "<script" not in page
    assert not list(images.glob("*_mask.png"))  # nothing written beside the inputs


def test_predict_refuses_to_write_beside_the_images_or_over_earlier_outputs(untrained_bundles, phantom_copy, tmp_path):
    images = phantom_copy / "DatasetB" / "original"
    assert main(["predict", str(images), "--models", str(untrained_bundles), "--out", str(images)]) == 2
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["predict", str(images / "000001.png"), "--models", str(untrained_bundles), "--out", str(out)]) == 2
    assert (out / "keep.txt").read_text() == "mine"
    assert main(["predict", str(images / "000001.png"), "--models", str(untrained_bundles), "--out", str(out),
                 "--overwrite"]) == 0


def test_predict_explains_a_models_folder_it_cannot_use(phantom_copy, tmp_path, capsys):
    assert main(["predict", str(phantom_copy / "DatasetB" / "original"), "--models", str(tmp_path),
                 "--out", str(tmp_path / "o")]) == 2
    assert "neither model bundles" in capsys.readouterr().err


def test_a_fold_ensemble_gives_each_image_its_spread_a_review_flag_and_a_variance_map(phantom_copy, tmp_path):
    import torch

    from buslib.models.bundle import ModelBundle, save_bundle
    from buslib.models.registry import create_classifier, get_spec
    from buslib.models.u2net import U2Net

    torch.manual_seed(0)
    folder = tmp_path / "bundles"
    classifiers = [create_classifier("rcdnet", 2, 64).state_dict() for _ in range(3)]
    for state in classifiers[1:]:
        state["head.3.bias"] += torch.tensor([-2.0, 2.0])  # members that disagree
    save_bundle(ModelBundle("classifier", "rcdnet", 64, classifiers[0], get_spec("rcdnet").stats, 0.5,
                            {"run": "test"}, classifiers[1:], [False, True, False], review_level=0.01),
                folder / "classifier.pt")
    segmenters = [U2Net("u2netp").state_dict() for _ in range(2)]
    save_bundle(ModelBundle("segmenter", "u2netp", 64, segmenters[0], fold_states=segmenters[1:]),
                folder / "segmenter.pt")
    out = tmp_path / "out"
    assert main(["predict", str(phantom_copy / "DatasetB" / "original" / "000001.png"), "--models", str(folder),
                 "--out", str(out)]) == 0
    row = pd.read_csv(out / "predictions.csv").iloc[0]
    assert row["prob_sd"] > 0.01 and row["review"] == "uncertain, review"
    assert row["classifier_members"] == 3 and row["segmenter_members"] == 2
    assert "mean of 2 fold models" in row["segmenter_inference"]
    assert Image.open(out / row["variance"]).size == (row["width"], row["height"])
    page = (out / "index.html").read_text()
    assert "mean of 3 fold models" in page and "uncertain, review" in page


def test_a_detector_that_sees_no_lesion_flags_the_image_and_withholds_nothing(untrained_bundles, phantom_copy,
                                                                             tmp_path):
    import shutil

    import torch

    from buslib.models.bundle import ModelBundle, save_bundle
    from buslib.models.registry import create_classifier, get_spec
    from buslib.models.u2net import U2Net

    folder = tmp_path / "bundles"
    shutil.copytree(untrained_bundles, folder)
    segmenter = U2Net("u2netp").state_dict()
    segmenter["fuse.bias"] += 50.0  # outlines the whole image
    save_bundle(ModelBundle("segmenter", "u2netp", 64, segmenter), folder / "segmenter.pt")
    images = phantom_copy / "DatasetB" / "original"
    verdicts = {}
    for bias in (-8.0, 8.0):  # P(lesion) near 0, then near 1
        torch.manual_seed(0)
        state = create_classifier("rcdnet", 2, 64).state_dict()
        state["head.3.bias"] += torch.tensor([-bias, bias])
        save_bundle(ModelBundle("detector", "rcdnet", 64, state, get_spec("rcdnet").stats, 0.5, {"run": "det"}),
                    folder / "detector.pt")
        out = tmp_path / f"out{bias}"
        assert main(["predict", str(images / "000001.png"), "--models", str(folder), "--out", str(out)]) == 0
        verdicts[bias] = row = pd.read_csv(out / "predictions.csv").iloc[0]
        assert row["detector"] == "rcdnet" and row["detector_run"] == "det" and row["lesion_threshold"] == 0.5
        assert "at most 0.500" in (out / "index.html").read_text()
        assert row["lesion_fraction"] == 1 and row["call"] in {"benign", "malignant"}  # nothing withheld
    absent, present = verdicts[-8.0], verdicts[8.0]
    assert absent["prob_lesion"] < 0.01 and not absent["lesion"] and "detector: no lesion" in absent["review"]
    assert "detector: no lesion" in (tmp_path / "out-8.0" / "index.html").read_text()
    assert present["prob_lesion"] > 0.99 and present["lesion"] and not isinstance(present["review"], str)  # empty
    assert absent["prob_malignant"] == present["prob_malignant"] and absent["call"] == present["call"]


def test_a_detector_bundle_with_the_segmenter_gate_flags_by_the_fold_u2netlites_highest_lesion_probability(
        untrained_bundles, phantom_copy, tmp_path):
    import html
    import shutil

    from buslib.models.bundle import ModelBundle, load_bundle, save_bundle
    from buslib.models.u2net import U2Net

    folder = tmp_path / "bundles"
    shutil.copytree(untrained_bundles, folder)
    classifiers = load_bundle(folder / "classifier.pt")
    image = phantom_copy / "DatasetB" / "original" / "000001.png"
    verdicts = {}
    for bias in (-20.0, 20.0):  # every fold U2NET-Lite's highest P(lesion) near 0, then near 1
        segmenters = [U2Net("u2netp").state_dict() for _ in range(2)]
        for state in segmenters:
            state["fuse.weight"].zero_()
            state["fuse.bias"].fill_(bias)
        save_bundle(ModelBundle("detector", classifiers.arch, classifiers.size, classifiers.state_dict,
                                classifiers.stats, 0.55, {"run": "det"}, gate="segmenter", gate_thresholds=[0.5, 0.6],
                                gate_states=segmenters, gate_tta=[True, False], gate_size=32), folder / "detector.pt")
        out = tmp_path / f"out{bias}"
        assert main(["predict", str(image), "--models", str(folder), "--out", str(out)]) == 0
        verdicts[bias] = row = pd.read_csv(out / "predictions.csv").iloc[0]
        assert row["lesion_gate"] == "segmenter" and row["lesion_threshold"] == 0.55
        page = html.unescape((out / "index.html").read_text())
        assert ("flagged 'no lesion' where the fold U2NET-Lites' highest P(lesion) in the image (2 fold models' mean"
                in page)
    absent, present = verdicts[-20.0], verdicts[20.0]
    assert absent["prob_lesion"] < 0.01 and not absent["lesion"] and "detector: no lesion" in absent["review"]
    assert present["prob_lesion"] > 0.99 and present["lesion"]


def test_a_fold_member_with_a_zoomed_second_stage_averages_it_in_where_its_use_says(untrained_bundles, phantom_copy,
                                                                                   tmp_path):
    import shutil

    import numpy as np

    from buslib.models.bundle import ModelBundle, load_bundle, save_bundle
    from buslib.models.u2net import U2Net
    from buslib.predict.inputs import read_scan
    from buslib.predict.run import Predictor

    stage1 = U2Net("u2netp").state_dict()
    stage1["fuse.bias"] += 50.0  # P(lesion) 1 everywhere
    stage2 = U2Net("u2netp").state_dict()
    stage2["fuse.bias"] -= 50.0  # P(lesion) 0 everywhere
    segmenter = ModelBundle("segmenter", "u2netp", 64, stage1, fold_states=[stage1], zoom_states=[stage2, stage2],
                            zoom_uses=["largest_box_margin0.3_passes1", "stage1_only"])
    folder = tmp_path / "bundles"
    save_bundle(segmenter, folder / "segmenter.pt")
    predictor = Predictor(load_bundle(untrained_bundles / "classifier.pt"), load_bundle(folder / "segmenter.pt"),
                          folder)
    grey, _ = read_scan(phantom_copy / "DatasetB" / "original" / "000001.png")
    mask, variance = predictor._segment(grey)
    # member 0: (1 + 0) / 2 inside its box (the whole image), member 1: stage 1 alone; mean 0.75, variance 0.0625
    assert mask.shape == grey.shape and mask.all()
    assert np.allclose(variance, 0.0625, atol=1e-3)
    assert "zoomed second stage (largest_box_margin0.3_passes1, stage1_only" in predictor.path
    shutil.copy(untrained_bundles / "classifier.pt", folder / "classifier.pt")
    out = tmp_path / "out"
    assert main(["predict", str(phantom_copy / "DatasetB" / "original" / "000001.png"), "--models", str(folder),
                 "--out", str(out)]) == 0
    assert "fold models, each refined by its zoomed second stage" in (out / "index.html").read_text()
