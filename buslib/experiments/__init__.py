"""One module per study notebook: segmentation and its lesion gate (02), classification (03), external test (04),
CAMs (05)."""
