"""Data: readers for BUSI and Dataset B, checks, cache, near-duplicates, cohort, splits, tasks and loaders."""
