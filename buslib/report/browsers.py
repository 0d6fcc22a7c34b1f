"""Image browsers for JupyterLab: an ipywidgets slider over images, each drawn with its outlines and caption."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .drawing import TRUE_COLOUR, cam_overlay, compare_outlines, jpeg_data_uri, outline, png_bytes

__all__ = ["STATIC_FRAMES", "STATIC_SIDE", "SliderBrowser", "static_slider", "slider_browser", "image_browser",
           "segmentation_browser", "cam_browser"]

STATIC_FRAMES = 30  # images kept in the static (exported-HTML) version of a browser
STATIC_SIDE = 320   # their longest side in pixels: two browsers stay near 1 MB in a notebook


class SliderBrowser(widgets.VBox):
    """An ipywidgets slider over images that also carries a static HTML version of itself.

    JupyterLab shows the live widget. Exported HTML pages show the static version (`export_html` drops
    the widget view where HTML is present): up to `STATIC_FRAMES` evenly spaced images as small JPEGs with a
    plain range input switching between them, so the page works offline, with no widget manager or CDN.
    """

    def __init__(self, count: int, render: Callable[[int], tuple[np.ndarray, str]], width: str = "700px"):
        if count < 1:
            raise ValueError("a browser needs at least one item")
        self.slider = widgets.IntSlider(0, 0, count - 1, description="image", continuous_update=False,
                                        layout=widgets.Layout(width=width))
        self.picture = widgets.Image(format="png", layout=widgets.Layout(max_width=width))
        self.caption = widgets.HTML()
        self.render = render
        super().__init__([self.slider, self.caption, self.picture])
        self.slider.observe(self.show, names="value")
        self.show()
        self.static_html = static_slider(count, render, width)

    def show(self, change: dict | None = None) -> None:
        array, text = self.render(self.slider.value)
        self.picture.value, self.caption.value = png_bytes(array), text

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = self.static_html
        return bundle


def static_slider(count: int, render: Callable[[int], tuple[np.ndarray, str]], width: str = "700px") -> str:
    """Self-contained HTML: evenly spaced rendered images (JPEG, inline) behind a range input; no script."""
    shown = np.unique(np.linspace(0, count - 1, min(count, STATIC_FRAMES)).round().astype(int))
    figures = []
    for position, index in enumerate(shown):
        array, caption = render(int(index))
        figures.append(f'<figure style="margin:0;display:{"block" if position == 0 else "none"}">'
                       f'<figcaption>{caption}</figcaption><img src="{jpeg_data_uri(array, STATIC_SIDE)}" '
                       f'style="max-width:{width}"/></figure>')
    toggle = ("var f=this.parentNode.querySelectorAll('figure');"
              "for(var i=0;i<f.length;i++){f[i].style.display=(i==this.value)?'block':'none';}")
    note = (f"Static view: {len(shown)} of {count} images. Open the notebook in JupyterLab for the live slider."
            if len(shown) < count else "Static view of the slider.")
    return (f'<div class="buslib-static-slider"><div style="font-size:90%;color:#555">{note}</div>'
            f'<input type="range" min="0" max="{len(shown) - 1}" value="0" step="1" style="width:{width}" '
            f'oninput="{toggle}"/>{"".join(figures)}</div>')


def slider_browser(count: int, render: Callable[[int], tuple[np.ndarray, str]],
                   width: str = "700px") -> SliderBrowser:
    """A slider over `count` items; `render(i)` returns (RGB or grey array, HTML caption)."""
    return SliderBrowser(count, render, width)


def image_browser(frame: pd.DataFrame, images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                  extra_columns: Sequence[str] = ()) -> SliderBrowser:
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


def segmentation_browser(cases: pd.DataFrame, images: Sequence[np.ndarray], trues: Sequence[np.ndarray],
                         preds: Sequence[np.ndarray]) -> SliderBrowser:
    """Slider over test images: true (green) and predicted (red) outlines, with Dice and IoU."""
    rows = cases.reset_index(drop=True)

    def render(i: int):
        row = rows.iloc[i]
        return (compare_outlines(images[i], trues[i], preds[i]),
                f"<b>{row['image_id']}</b> · {row['label']} · Dice {row['dice']:.3f} · IoU {row['iou']:.3f}")

    return slider_browser(len(rows), render)


def cam_browser(frame: pd.DataFrame, images: np.ndarray, true_masks: np.ndarray, pred_masks: np.ndarray | None,
                cams: np.ndarray, prob_malignant: np.ndarray, threshold: float, scores: pd.DataFrame) -> SliderBrowser:
    """Slider over images: lesion outlines (true green, U2NET-Lite red) beside the CAM, with the prediction."""
    rows = frame.reset_index(drop=True)

    def render(i: int):
        left = (compare_outlines(images[i], true_masks[i], pred_masks[i]) if pred_masks is not None
                else outline(images[i], true_masks[i], TRUE_COLOUR))
        predicted = "malignant" if prob_malignant[i] >= threshold else "benign"
        text = (f"<b>{rows.loc[i, 'image_id']}</b> · true {rows.loc[i, 'label']} · predicted <b>{predicted}</b> "
                f"(P(malignant) {prob_malignant[i]:.2f}, threshold {threshold:.2f}) · CAM energy in lesion "
                f"{scores.loc[i, 'energy_inside']:.2f} · peak in lesion: "
                f"{'yes' if scores.loc[i, 'pointing_hit'] else 'no'}")
        return np.hstack([left, cam_overlay(images[i], cams[i])]), text

    return slider_browser(len(rows), render, width="760px")
