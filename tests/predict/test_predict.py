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
    out = tmp_path / "out"
    assert main(["predict", str(images), "--models", str(untrained_bundles), "--out", str(out)]) == 1
    assert "999999.png" in capsys.readouterr().err
    table = pd.read_csv(out / "predictions.csv")
    ok = table[table["status"] == "ok"]
    assert len(table) == 14 and len(ok) == 13
    assert table.loc[table["status"] == "failed", "error"].str.contains("999999.png").all()
    first = ok.iloc[0]
    assert Image.open(out / first["mask"]).size == (first["width"], first["height"])
    assert ((ok["prob_malignant"] >= 0) & (ok["prob_malignant"] <= 1)).all()
    assert set(ok["call"]) <= {"benign", "malignant"} and (table["classifier_run"] == "test").all()
    assert "not a medical device" in table["note"].iloc[0]
    page = (out / "index.html").read_text()
    assert page.count('class="card"') == 13 and "999999.png" in page and "<script" not in page
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
