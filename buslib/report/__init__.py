"""Reports: notebook context, recorded numbers, figures, the papers' numbers, the papermill runner, benchmarks."""
