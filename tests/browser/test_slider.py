"""The study's image slider, run in JupyterLab in a real (headless) browser: moving it changes the image,
its label and its outline. And the page `predict` writes opens offline with every image and no error."""

import base64
import io

import nbformat
import numpy as np
import pytest
from PIL import Image

from buslib.report.runner import KERNEL_NAME, ensure_kernel
from tests.browser_support import browser_page, jupyterlab

pytestmark = pytest.mark.notebook  # slow: a JupyterLab server, a kernel and a browser

SLIDER_CELL = """from buslib.data.readers import read_busi
from buslib.data.cohort import load_full_resolution
from buslib.report.browsers import image_browser
busi = read_busi({root!r})
images, masks = load_full_resolution(busi, progress=False)
image_browser(busi, images, masks)"""


def shown_image(page) -> np.ndarray:
    """The pixels the slider's image widget shows (its blob URL, fetched inside the page)."""
    data = page.evaluate("""async () => {
        const img = document.querySelector('img.widget-image');
        const buffer = await (await fetch(img.src)).arrayBuffer();
        let text = ''; new Uint8Array(buffer).forEach(b => text += String.fromCharCode(b));
        return btoa(text);
    }""")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def outline_pixels(rgb: np.ndarray) -> np.ndarray:
    return np.all(rgb == (255, 60, 60), axis=-1)


def test_the_slider_changes_image_label_and_outline_in_jupyterlab(phantom_root, tmp_path):
    ensure_kernel()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SLIDER_CELL.format(root=str(phantom_root)))],
                                        metadata={"kernelspec": {"name": KERNEL_NAME, "language": "python",
                                                                 "display_name": "Python (buslib)"}})
    nbformat.write(notebook, tmp_path / "slider.ipynb")
    with jupyterlab(tmp_path) as (url, token), browser_page() as page:
        page.goto(f"{url}/lab/tree/slider.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_selector("text=Python (buslib) | Idle", timeout=120_000)  # the kernel is ready
        page.click(".jp-Notebook .jp-Cell .jp-InputArea-editor")
        page.keyboard.press("Shift+Enter")
        page.wait_for_selector("img.widget-image", timeout=120_000)
        caption = page.locator(".widget-html-content").first
        page.wait_for_function("() => document.querySelector('img.widget-image').src.length > 0")
        before_label, before = caption.inner_text(), shown_image(page)
        readout = page.locator(".widget-readout").first
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("5")
        page.keyboard.press("Enter")
        page.wait_for_function("(old) => document.querySelector('.widget-html-content').innerText !== old",
                               arg=before_label, timeout=30_000)
        after_label = caption.inner_text()
        page.wait_for_timeout(500)
        after = shown_image(page)
    assert before_label.startswith("benign (1)") and after_label.startswith("benign (6)"), (before_label, after_label)
    assert before.shape != after.shape or not np.array_equal(before, after)
    assert outline_pixels(before).any() and outline_pixels(after).any()
    assert before.shape != after.shape or not np.array_equal(outline_pixels(before), outline_pixels(after))
