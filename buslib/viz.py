"""Figures for the notebooks: plotly for charts and galleries, ipywidgets for the image browser."""

from __future__ import annotations

import io
from typing import Sequence

import ipywidgets as widgets
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from PIL import Image
from scipy import ndimage

LABEL_COLOURS = {"benign": "#4C78A8", "malignant": "#E45756", "normal": "#54A24B"}


def outline(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 60, 60),
            width: int = 2) -> np.ndarray:
    """RGB copy of a grey (H, W) or RGB (H, W, 3) image with the mask's boundary drawn in `colour`."""
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape} and mask {mask.shape} differ in shape")
    rgb = image.copy() if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    mask = mask.astype(bool)
    edge = mask & ~ndimage.binary_erosion(mask, iterations=width)
    rgb[edge] = colour
    return rgb


def tile(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB or grey array to (width, height) for a gallery."""
    return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))


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


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def image_browser(frame: pd.DataFrame, images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                  extra_columns: Sequence[str] = ()) -> widgets.VBox:
    """A slider over the images showing each with its mask outline, label and chosen columns."""
    if not len(frame):
        raise ValueError("image_browser needs at least one image")
    rows = frame.reset_index(drop=True)

    def render(i: int):
        row = rows.iloc[i]
        details = "".join(f" · {c}: {row[c]}" for c in extra_columns)
        return (outline(images[i], masks[i]),
                f"<b>{row['image_id']}</b> · {row['label']} · {row['width']}x{row['height']}{details}")

    return slider_browser(len(rows), render, width="600px")


def outline_tiles(frame: pd.DataFrame, images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                  size: tuple[int, int] = (220, 180), caption: str = "label") -> tuple[list[np.ndarray], list[str]]:
    """Gallery tiles of the frame's rows (its index points into images/masks) with mask outlines."""
    tiles = [tile(outline(images[i], masks[i]), size) for i in frame.index]
    titles = [f"{row.image_id} · {getattr(row, caption)}" for row in frame.itertuples()]
    return tiles, titles


TRUE_COLOUR = (60, 220, 60)
PRED_COLOUR = (255, 60, 60)


def compare_outlines(image: np.ndarray, true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """RGB image with the true mask's boundary in green and the predicted one in red."""
    return outline(outline(image, true, TRUE_COLOUR), pred, PRED_COLOUR)


def learning_curves(histories: dict[str, pd.DataFrame], metric: str, title: str) -> go.Figure:
    """Train/valid loss and a validation metric per epoch, one colour per run."""
    tidy = pd.concat([h.assign(run=name) for name, h in histories.items()], ignore_index=True)
    long = tidy.melt(id_vars=["run", "epoch"], value_vars=["train_loss", "valid_loss", metric],
                     var_name="curve", value_name="value")
    fig = px.line(long, x="epoch", y="value", color="run", facet_col="curve", markers=True, title=title)
    fig.update_yaxes(matches=None, showticklabels=True)
    return fig.update_layout(height=380)


def slider_browser(count: int, render, width: str = "700px") -> widgets.VBox:
    """A slider over `count` items; `render(i)` returns (RGB or grey array, HTML caption)."""
    if count < 1:
        raise ValueError("a browser needs at least one item")
    slider = widgets.IntSlider(0, 0, count - 1, description="image", continuous_update=False,
                               layout=widgets.Layout(width=width))
    picture = widgets.Image(format="png", layout=widgets.Layout(max_width=width))
    caption = widgets.HTML()

    def show(change=None) -> None:
        array, text = render(slider.value)
        picture.value, caption.value = _png(array), text

    slider.observe(show, names="value")
    show()
    return widgets.VBox([slider, caption, picture])


def segmentation_browser(cases: pd.DataFrame, images: Sequence[np.ndarray], trues: Sequence[np.ndarray],
                         preds: Sequence[np.ndarray]) -> widgets.VBox:
    """Slider over test images: true (green) and predicted (red) outlines, with Dice and IoU."""
    rows = cases.reset_index(drop=True)

    def render(i: int):
        row = rows.iloc[i]
        return (compare_outlines(images[i], trues[i], preds[i]),
                f"<b>{row['image_id']}</b> · {row['label']} · Dice {row['dice']:.3f} · IoU {row['iou']:.3f}")

    return slider_browser(len(rows), render)


def segmentation_tiles(ranked: pd.DataFrame, images: Sequence[np.ndarray], trues: Sequence[np.ndarray],
                       preds: Sequence[np.ndarray], size: tuple[int, int] = (220, 180)) -> tuple[list, list[str]]:
    """Gallery tiles (true outline green, predicted red) of ranked cases; the index points into the arrays."""
    tiles = [tile(compare_outlines(images[i], trues[i], preds[i]), size) for i in ranked.index]
    titles = [f"{row.rank}: {row.image_id} Dice {row.dice:.2f}" for row in ranked.itertuples()]
    return tiles, titles


def roc_figure(curves: dict[str, pd.DataFrame], title: str) -> go.Figure:
    """ROC curves (frames with fpr, tpr) of several models, with the chance diagonal."""
    tidy = pd.concat([c.assign(model=name) for name, c in curves.items()], ignore_index=True)
    fig = px.line(tidy, x="fpr", y="tpr", color="model", title=title,
                  labels={"fpr": "1 - specificity", "tpr": "sensitivity"})
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line=dict(dash="dot", color="grey"))
    return fig.update_layout(height=480, width=620)


def confusion_figure(tables: dict[str, pd.DataFrame], title: str, columns: int = 4) -> go.Figure:
    """Confusion matrices (true rows x predicted columns) side by side, counts written in each cell."""
    from plotly.subplots import make_subplots

    names = list(tables)
    rows = -(-len(names) // columns)
    fig = make_subplots(rows=rows, cols=min(columns, len(names)), subplot_titles=names,
                        horizontal_spacing=0.06, vertical_spacing=0.12)
    for i, name in enumerate(names):
        table = tables[name]
        fig.add_trace(go.Heatmap(z=table.to_numpy(), x=[f"pred {c}" for c in table.columns],
                                 y=[f"true {c}" for c in table.index], text=table.to_numpy(), texttemplate="%{text}",
                                 colorscale="Blues", showscale=False), row=i // columns + 1, col=i % columns + 1)
    fig.update_yaxes(autorange="reversed")
    return fig.update_layout(title=title, height=260 * rows + 80)


def reliability_figure(curves: dict[str, pd.DataFrame], title: str) -> go.Figure:
    """Reliability diagrams (predicted vs observed malignant rate per bin), marker size by count."""
    tidy = pd.concat([c.assign(model=name) for name, c in curves.items()], ignore_index=True)
    fig = px.line(tidy, x="predicted", y="observed", color="model", markers=True, title=title,
                  hover_data=["count"], labels={"predicted": "mean predicted P(malignant)",
                                                "observed": "observed malignant rate"})
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line=dict(dash="dot", color="grey"))
    return fig.update_layout(height=480, width=620)


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
