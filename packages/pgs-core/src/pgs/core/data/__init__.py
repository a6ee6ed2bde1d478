"""Data: the ER-NeRF / TalkingGaussian processed-speaker folder (lazy loader) and a synthetic speaker.

Public API:

- `SpeakerDataset.open(folder, split=..., audio=...)` -> frames (`Frame`, `FrameMasks`), lazily decoded.
- `read_au_csv` / `AuTable` / `write_au_csv`: OpenFace ``au.csv``.
- `masks_from_parsing` / `parsing_from_labels` / `Region`: TalkingGaussian parsing colours.
- `generate_speaker` (in `pgs.core.data.synthetic`): a procedural Gaussian speaker in that format.
"""

from pgs.core.data.au import OPENFACE_AU_COLUMNS, AuTable, read_au_csv, write_au_csv
from pgs.core.data.dataset import (
    PRECOMPUTED_AUDIO,
    Frame,
    FrameMasks,
    SpeakerDataset,
    load_precomputed_audio,
    resolve_audio,
    train_val_split,
)
from pgs.core.data.parsing import REGION_RGB, ParsingMasks, Region, masks_from_parsing, parsing_from_labels

__all__ = [
    "OPENFACE_AU_COLUMNS",
    "PRECOMPUTED_AUDIO",
    "REGION_RGB",
    "AuTable",
    "Frame",
    "FrameMasks",
    "ParsingMasks",
    "Region",
    "SpeakerDataset",
    "load_precomputed_audio",
    "masks_from_parsing",
    "parsing_from_labels",
    "read_au_csv",
    "resolve_audio",
    "train_val_split",
    "write_au_csv",
]
