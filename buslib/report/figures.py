"""Figures for the notebooks: plotly charts, and image galleries built from tiles."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .drawing import TRUE_COLOUR, cam_overlay, compare_outlines, outline, tile

__all__ = ["LABEL_COLOURS", "image_grid", "pair_tiles", "class_counts_figure", "size_figure", "mask_area_figure",
           "outline_tiles", "learning_curves", "segmentation_tiles", "roc_figure", "wrap_name", "confusion_figure",
           "reliability_figure", "metric_bars", "error_heatmap", "localisation_bars", "cam_gallery",
           "cam_example_tiles"]

LABEL_COLOURS = {"benign": "#4C78A8", "malignant": "#E45756", "normal": "#54A24B"}


def image_grid(tiles: Sequence[np.ndarray], titles: Sequence[str], columns: int = 4,
               tile_height: int = 200) -> go.Figure:
    """A gallery of equally sized RGB tiles with a title over each (a note when there are none)."""
    if not len(tiles):
        fig = go.Figure().add_annotation(text="nothing to show", showarrow=False, font=dict(size=16))
        fig.update_xaxes(visible=False).update_yaxes(visible=False)
        return fig.update_layout(height=120, margin=dict(l=5, r=5, t=5, b=5))
    stack = np.stack(tiles)
    fig = px.imshow(stack, facet_col=0, facet_col_wrap=columns, facet_row_spacing=0.06, facet_col_spacing=0.01)
    for annotation in fig.layout.annotations:
        annotation.text = titles[int(annotation.text.split("=")[1])]
        annotation.font.size = 11
    rows = -(-len(tiles) // columns)
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    fig.update_layout(height=rows * tile_height + 60, margin=dict(l=5, r=5, t=40, b=5))
    return fig


def pair_tiles(pairs: pd.DataFrame, lookup: dict[str, int], images: Sequence[np.ndarray],
               size: tuple[int, int] = (220, 180)) -> tuple[list[np.ndarray], list[str]]:
    """Side-by-side tiles for near-duplicate pairs, titled with ids, labels and similarity."""
    tiles, titles = [], []
    for row in pairs.itertuples(index=False):
        left, right = (tile(images[lookup[i]], size) for i in (row.image_a, row.image_b))
        gap = np.full((size[1], 6), 255, np.uint8)
        tiles.append(np.repeat(np.hstack([left, gap, right])[..., None], 3, axis=2))
        titles.append(f"{row.image_a} | {row.image_b}  r={row.correlation:.3f} d={row.hash_distance}")
    return tiles, titles


def class_counts_figure(counts: pd.DataFrame, x: str, colour: str, title: str) -> go.Figure:
    """Grouped bar chart of a tidy count table (columns x, colour, 'images')."""
    fig = px.bar(counts, x=x, y="images", color=colour, barmode="group", text="images", title=title,
                 color_discrete_map=LABEL_COLOURS)
    return fig.update_layout(height=380)


def size_figure(frame: pd.DataFrame) -> go.Figure:
    """Image width against height, one point per image, by dataset and label."""
    fig = px.scatter(frame, x="width", y="height", color="label", symbol="dataset", opacity=0.6,
                     hover_data=["image_id"], color_discrete_map=LABEL_COLOURS, title="Image sizes (pixels)")
    return fig.update_layout(height=420)


def mask_area_figure(frame: pd.DataFrame) -> go.Figure:
    """Distribution of the lesion's share of the image, by dataset and label (lesion images only)."""
    lesions = frame[frame["mask_area_fraction"] > 0]
    fig = px.histogram(lesions, x="mask_area_fraction", color="label", facet_row="dataset", nbins=40,
                       barmode="overlay", opacity=0.65, color_discrete_map=LABEL_COLOURS,
                       title="Lesion area as a fraction of the image")
    return fig.update_layout(height=520)


def outline_tiles(frame: pd.DataFrame, images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                  size: tuple[int, int] = (220, 180), caption: str = "label") -> tuple[list[np.ndarray], list[str]]:
    """Gallery tiles of the frame's rows (its index points into images/masks) with mask outlines."""
    tiles = [tile(outline(images[i], masks[i]), size) for i in frame.index]
    titles = [f"{row.image_id} · {getattr(row, caption)}" for row in frame.itertuples()]
    return tiles, titles


def learning_curves(histories: dict[str, pd.DataFrame], metric: str, title: str) -> go.Figure:
    """Train/valid loss (log axes: one early spike would flatten the rest) and a validation metric per epoch,
    one colour per run; the figure grows so that the legend shows every run."""
    tidy = pd.concat([h.assign(run=name) for name, h in histories.items()], ignore_index=True)
    long = tidy.melt(id_vars=["run", "epoch"], value_vars=["train_loss", "valid_loss", metric],
                     var_name="curve", value_name="value")
    fig = px.line(long, x="epoch", y="value", color="run", facet_col="curve", markers=True, title=title,
                  color_discrete_sequence=_palette(len(histories)))
    fig.for_each_annotation(lambda a: a.update(text=a.text.removeprefix("curve=")))
    fig.update_yaxes(matches=None, showticklabels=True)
    fig.update_yaxes(type="log", col=1).update_yaxes(type="log", col=2)
    return fig.update_layout(height=max(380, 220 + 21 * len(histories)))


def segmentation_tiles(ranked: pd.DataFrame, images: Sequence[np.ndarray], trues: Sequence[np.ndarray],
                       preds: Sequence[np.ndarray], size: tuple[int, int] = (220, 180)) -> tuple[list, list[str]]:
    """Gallery tiles (true outline green, predicted red) of ranked cases; the index points into the arrays."""
    tiles = [tile(compare_outlines(images[i], trues[i], preds[i]), size) for i in ranked.index]
    titles = [f"{row.rank}: {row.image_id} Dice {row.dice:.2f}" for row in ranked.itertuples()]
    return tiles, titles


def roc_figure(curves: dict[str, pd.DataFrame], title: str) -> go.Figure:
    """ROC curves (frames with fpr, tpr) of several models, with the chance diagonal."""
    return _curves_with_diagonal(curves, "fpr", "tpr", title, labels={"fpr": "1 - specificity", "tpr": "sensitivity"})


def wrap_name(name: str, width: int = 30) -> str:
    """`name` broken into lines of at most `width` characters (longer single words stay whole) after its
    underscores, joined with plotly's <br>: long run keys as subplot titles."""
    lines = [""]
    for part in re.split(r"(?<=_)", name):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "<br>".join(lines)


def confusion_figure(tables: dict[str, pd.DataFrame], title: str, columns: int = 4) -> go.Figure:
    """Confusion matrices (true rows x predicted columns) side by side, counts written in each cell."""
    names = list(tables)
    rows = -(-len(names) // columns)
    fig = make_subplots(rows=rows, cols=min(columns, len(names)), subplot_titles=[wrap_name(n) for n in names],
                        horizontal_spacing=0.08, vertical_spacing=min(0.3, 100 / (260 * rows - 100)))  # ~100 px
    fig.update_annotations(font_size=11)
    for i, name in enumerate(names):
        table = tables[name]
        fig.add_trace(go.Heatmap(z=table.to_numpy(), x=[f"pred {c}" for c in table.columns],
                                 y=[f"true {c}" for c in table.index], text=table.to_numpy(), texttemplate="%{text}",
                                 colorscale="Blues", showscale=False), row=i // columns + 1, col=i % columns + 1)
    fig.update_yaxes(autorange="reversed")
    for col in range(2, columns + 1):   # the row labels once per row: they would run into the matrix on their left
        fig.update_yaxes(showticklabels=False, col=col)
    return fig.update_layout(title=title, height=260 * rows + 80)


def _palette(entries: int) -> list[str]:
    """Plotly's default 10 colours, or 48 distinct ones (Dark24 then Light24) when there are more entries."""
    default = px.colors.qualitative.Plotly
    return default if entries <= len(default) else px.colors.qualitative.Dark24 + px.colors.qualitative.Light24


def _curves_with_diagonal(curves: dict[str, pd.DataFrame], x: str, y: str, title: str, **line_args) -> go.Figure:
    """One line per model (frames with columns `x`, `y`), each its own colour, over the grey y = x diagonal, with
    the legend below."""
    tidy = pd.concat([c.assign(model=name) for name, c in curves.items()], ignore_index=True)
    fig = px.line(tidy, x=x, y=y, color="model", title=title, color_discrete_sequence=_palette(len(curves)),
                  **line_args)
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line=dict(dash="dot", color="grey"))
    return _legend_below(fig, list(curves))


def _legend_below(fig: go.Figure, names: Sequence[str]) -> go.Figure:
    """The legend under a square-ish plot, one line per entry, so that long model names do not squeeze the axes; the
    figure widens to the longest name (about 7 px a character at plotly's 12 px font)."""
    entries, longest = len(names), max((len(name) for name in names), default=0)
    return fig.update_layout(width=max(700, 160 + 7 * longest), height=560 + 22 * entries,
                             margin=dict(b=40 + 22 * entries),
                             legend=dict(orientation="h", yanchor="top", y=-0.16, x=0, title_text="",
                                         entrywidth=1, entrywidthmode="fraction"))   # one entry a line


def reliability_figure(curves: dict[str, pd.DataFrame], title: str) -> go.Figure:
    """Reliability diagrams (predicted vs observed malignant rate per bin), marker size by count."""
    return _curves_with_diagonal(curves, "predicted", "observed", title, markers=True, hover_data=["count"],
                                 labels={"predicted": "mean predicted P(malignant)",
                                         "observed": "observed malignant rate"})


def metric_bars(table: pd.DataFrame, metric: str, low: str, high: str, title: str) -> go.Figure:
    """Horizontal bars of one metric per row label ('label' column) with its CI as error bars."""
    fig = go.Figure(go.Bar(x=table[metric], y=table["label"], orientation="h",
                           error_x=dict(type="data", symmetric=False, array=table[high] - table[metric],
                                        arrayminus=table[metric] - table[low])))
    return fig.update_layout(title=title, height=max(300, 32 * len(table) + 120), xaxis_title=metric,
                             yaxis=dict(autorange="reversed"))


def error_heatmap(by_diagnosis: pd.DataFrame, columns: Sequence[str], title: str) -> go.Figure:
    """Error rate per diagnosis (rows, with image counts) and classifier (columns)."""
    rows = [f"{r.label} · {r.diagnosis} (n={r.images})" for r in by_diagnosis.itertuples()]
    values = by_diagnosis[list(columns)].to_numpy()
    fig = go.Figure(go.Heatmap(z=values, x=list(columns), y=rows, zmin=0, zmax=1, colorscale="Reds",
                               text=np.round(values, 2), texttemplate="%{text}", colorbar=dict(title="error")))
    return fig.update_layout(title=title, height=max(350, 28 * len(rows) + 150), yaxis=dict(autorange="reversed"))


def localisation_bars(summary: pd.DataFrame, metric: str, title: str) -> go.Figure:
    """A localisation score per CAM method and model, one panel per dataset; the dotted line is the mean
    lesion share of the image, what a uniformly random map would score."""
    fig = px.bar(summary, x="method", y=metric, color="model", barmode="group", facet_col="dataset", title=title,
                 range_y=[0, 1])
    for i, (_, part) in enumerate(summary.groupby("dataset", sort=False)):
        fig.add_hline(y=float(part["lesion_share"].mean()), line_dash="dot", line_color="grey", col=i + 1,
                      annotation_text="lesion share", annotation_position="top left")
    return fig.update_layout(height=440)


def cam_gallery(images: np.ndarray, masks: np.ndarray, cams: dict[str, np.ndarray], rows: Sequence[int],
                captions: Sequence[str], size: tuple[int, int] = (200, 200)) -> tuple[list[np.ndarray], list[str]]:
    """Tiles for an image x method grid: the image with its lesion outline, then one CAM overlay per method."""
    tiles, titles = [], []
    for row, caption in zip(rows, captions):
        tiles.append(tile(outline(images[row], masks[row], TRUE_COLOUR), size))
        titles.append(caption)
        for method, maps in cams.items():
            tiles.append(tile(cam_overlay(images[row], maps[row]), size))
            titles.append(method)
    return tiles, titles


def cam_example_tiles(key: str, cams: dict, datasets: dict[str, tuple[np.ndarray, np.ndarray]],
                      frames: dict[str, pd.DataFrame], methods: Sequence[str],
                      per_label: int = 2) -> tuple[list, list[str]]:
    """Gallery tiles for one model: `per_label` images of each label from every dataset, each followed by
    its CAM under every method (cams keyed by (model key, method, dataset) as `score_localisation` returns)."""
    tiles, titles = [], []
    for name, frame in frames.items():
        rows = frame.groupby("label").head(per_label).index.to_numpy()
        captions = [f"{name}: {frame.loc[i, 'image_id']} ({frame.loc[i, 'label']})" for i in rows]
        part = cam_gallery(*datasets[name], {m: cams[(key, m, name)][0] for m in methods}, rows, captions)
        tiles += part[0]
        titles += part[1]
    return tiles, titles
