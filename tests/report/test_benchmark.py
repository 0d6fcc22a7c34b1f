"""The bench command measures and prints; it asserts nothing about speed."""

import json

from fastai.torch_core import default_device

from buslib.cli import main


def test_benchmark_reports_positive_finite_figures(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--models", "u2netp,rcdnet", "--sizes", "32", "--batch", "2", "--steps", "1",
                 "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [(r["model"], r["size"]) for r in rows] == [("u2netp", 32), ("rcdnet", 32)]
    for row in rows:
        assert 0 < row["train_images_per_s"] < float("inf") and 0 < row["infer_ms_per_image"] < float("inf")
    assert main(["bench", "--models", "resnet9000"]) == 2


def test_the_training_loop_benchmark_runs_the_studys_learners_on_the_default_device(tmp_path):
    out = tmp_path / "loop.json"
    assert main(["bench", "--loop", "--models", "u2netp,deepcardinal50", "--sizes", "32", "--train-images", "8",
                 "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [(r["model"], r["recipe"]) for r in rows] == [("u2netp", "strong"), ("deepcardinal50", "li")]
    for row in rows:
        assert row["device"] == str(default_device()) and row["train_images"] == 8
        assert 0 < row["train_img_per_s"] < float("inf") and 0 < row["seconds_per_epoch"] < float("inf")
