"""One module per study notebook: segmentation (02), classification (03), external test (04), CAMs (05)."""
