"""What every probe here starts from: the report probed (first argument, default reports/cpu), BUSI with that report's
folds, and its saved fold checkpoints (stage 1 and the zoomed stage 2, half precision, as notebook 02 saves them)."""

import os
import sys
from pathlib import Path

import torch

from buslib.data.cohort import load_split_table
from buslib.data.readers import read_busi
from buslib.models.bundle import float_state
from buslib.models.u2net import U2Net

rep = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("reports/cpu")
busi = read_busi(Path(os.environ.get("BUSLIB_DATA", "../shared/data"))).merge(
    load_split_table(rep / "splits_busi.csv").drop(columns="label"), on="image_id")
S1 = torch.load(rep / "checkpoints/02_u2netp_folds.pth", weights_only=True)        # split -> state
S2 = torch.load(rep / "checkpoints/02_u2netp_zoom_folds.pth", weights_only=True)   # split -> {"state", "use"}


def load(state: dict[str, torch.Tensor]) -> U2Net:
    """A U2NET-Lite in eval mode from a saved (half-precision) state."""
    model = U2Net("u2netp")
    model.load_state_dict(float_state(state))
    return model.eval()
