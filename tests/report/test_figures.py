import numpy as np
import pandas as pd

from buslib.report.figures import confusion_figure, learning_curves, reliability_figure, roc_figure, wrap_name


def test_long_run_keys_wrap_after_underscores_and_lose_no_character():
    key = "effnet_lite2_and_rcdnet_and_effnet_lite2_crop_binary_ensemble_imagenet"
    lines = wrap_name(key, width=30).split("<br>")
    assert "".join(lines) == key
    assert len(lines) == 3 and all(len(line) <= 30 for line in lines)
    assert wrap_name("resnet50") == "resnet50"
    assert wrap_name("a_much_longer_single_word_than_the_width", width=5).split("<br>")[1] == "much_"


def test_confusion_figure_titles_each_matrix_and_labels_rows_once_per_row():
    table = pd.DataFrame([[3, 1], [2, 4]], index=["benign", "malignant"], columns=["benign", "malignant"])
    names = [f"model_{i}_binary_ensemble_imagenet_with_a_long_name" for i in range(5)]
    fig = confusion_figure({name: table for name in names}, "t", columns=4)
    titles = [a.text.replace("<br>", "") for a in fig.layout.annotations]
    assert titles == names
    assert [np.asarray(t.z).sum() for t in fig.data] == [10] * 5
    assert fig.layout.yaxis.showticklabels is not False and fig.layout.yaxis2.showticklabels is False
    assert fig.layout.yaxis5.showticklabels is not False   # first column of the second row


def test_curve_legends_sit_under_the_plot_and_the_figure_grows_with_them():
    curve = pd.DataFrame({"fpr": [0, 0.5, 1], "tpr": [0, 0.8, 1]})
    few, many = (roc_figure({f"model_{i}_with_a_long_name (imagenet), 5 folds": curve for i in range(n)}, "ROC")
                 for n in (2, 12))
    assert few.layout.legend.orientation == "h" and few.layout.legend.y < 0
    assert many.layout.height > few.layout.height
    assert (many.layout.legend.entrywidth, many.layout.legend.entrywidthmode) == (1, "fraction")   # one a line
    assert len({trace.line.color for trace in many.data}) == 12   # no colour repeats past plotly's default 10
    bins = pd.DataFrame({"predicted": [0.2, 0.8], "observed": [0.1, 0.9], "count": [5, 5]})
    assert reliability_figure({"a": bins, "b": bins}, "calibration").layout.legend.orientation == "h"
    reliability = reliability_figure({f"model_{i}": bins for i in range(12)}, "calibration")
    assert len({trace.line.color for trace in reliability.data}) == 12   # the same palette as the ROC figures


def test_learning_curves_give_each_run_its_own_colour_and_room_in_the_legend():
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [0.7, 0.5], "valid_loss": [0.6, 0.5], "auc": [0.7, 0.8]})
    few, many = (learning_curves({f"run_{i}": history for i in range(n)}, "auc", "t") for n in (2, 14))
    colours = {trace.name: trace.line.color for trace in many.data}
    assert len(colours) == 14 and len(set(colours.values())) == 14   # no colour repeats past plotly's default 10
    assert many.layout.height > few.layout.height
    assert sorted(a.text for a in many.layout.annotations) == ["auc", "train_loss", "valid_loss"]
