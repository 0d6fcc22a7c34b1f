"""The page `predict` writes, opened from disk in headless Chromium: every image there, no console error."""

import pytest

from buslib.cli import main
from tests.browser_support import browser_page

pytestmark = pytest.mark.notebook


def test_the_prediction_page_shows_every_image_offline(untrained_bundles, phantom_root, tmp_path):
    out = tmp_path / "predictions"
    assert main(["predict", str(phantom_root / "DatasetB" / "original"), "--models", str(untrained_bundles),
                 "--out", str(out)]) == 0
    with browser_page() as page:
        page.goto((out / "index.html").as_uri())
        page.wait_for_load_state("load")
        cards = page.locator(".card").count()
        sizes = page.evaluate("() => Array.from(document.images).map(i => i.complete && i.naturalWidth)")
        errors = list(page.console_errors)
    assert cards == 12 and len(sizes) == 24 and all(sizes), sizes
    assert not errors, errors
