"""buslib: the library behind the breast-ultrasound study notebooks.

Layers, bottom to top: `data` (readers, checks, cache, cohort, splits, loaders), `models`
(registry, RcdNet, U2-Net), `eval` (metrics and intervals), `infer` (model inputs and
prediction), `train` (fastai recipes and callbacks), `experiments` (one per notebook) and
`report` (notebook context, records, figures, the papermill runner).
"""

from importlib import metadata

try:
    __version__ = metadata.version("buslib")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
