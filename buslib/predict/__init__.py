"""Use the study's models on new images: bundles from a report, per-image predictions, an offline HTML page."""
