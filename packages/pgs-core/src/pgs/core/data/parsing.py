"""Face-parsing masks in TalkingGaussian's colour code.

TalkingGaussian's ``data_utils/face_parsing/test.py`` writes ``parsing/<i>.png`` with
``cv2.imwrite``, i.e. its colour tuples are **BGR**. Read back with PIL (RGB), as this loader and
TalkingGaussian's do, the colours are:

==============  ==================  ==================  ========================================
region          written (BGR)       read (RGB)          mask rule on the RGB array (TG's)
==============  ==================  ==================  ========================================
background      (255, 255, 255)     (255, 255, 255)     --
face            (255, 0, 0)         (0, 0, 255)         ``B > 254 and R == 0 and G == 0``
inner mouth     (100, 100, 100)     (100, 100, 100)     ``R == G == B == 100``
hair            (0, 0, 0)           (0, 0, 0)           ``R, G, B all < 1``
neck            (0, 255, 0)         (0, 255, 0)         ``G > 254 and R == 0 and B == 0``
torso (cloth)   (0, 0, 255)         (255, 0, 0)         ``R > 254 and G == 0 and B == 0``
==============  ==================  ==================  ========================================

Face covers BiSeNet classes 1-10, 12, 13 (skin, brows, eyes, ears, nose, lips) and 18 (hat);
inner mouth is class 11 (oral cavity and teeth). ER-NeRF's parsing paints hair and mouth as face,
so such folders give no hair or mouth masks; re-run TalkingGaussian's parsing for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Region(IntEnum):
    """Label ids of the parsing regions (our numbering; the file stores colours)."""

    BACKGROUND = 0
    FACE = 1
    MOUTH = 2
    HAIR = 3
    NECK = 4
    TORSO = 5


#: RGB colour (as PIL reads the PNG) of each region.
REGION_RGB: dict[Region, tuple[int, int, int]] = {
    Region.BACKGROUND: (255, 255, 255),
    Region.FACE: (0, 0, 255),
    Region.MOUTH: (100, 100, 100),
    Region.HAIR: (0, 0, 0),
    Region.NECK: (0, 255, 0),
    Region.TORSO: (255, 0, 0),
}


@dataclass
class ParsingMasks:
    """Boolean [H, W] masks of one parsing image (TalkingGaussian's rules, see the module docstring)."""

    face: np.ndarray
    mouth: np.ndarray
    hair: np.ndarray
    neck: np.ndarray
    torso: np.ndarray


def masks_from_parsing(rgb: np.ndarray) -> ParsingMasks:
    """Decode a parsing image.

    Args:
        rgb: [H, W, 3] uint8 RGB array (PIL order).

    Returns:
        `ParsingMasks` (before the teeth mask is applied; see `SpeakerDataset`).
    """
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"parsing image must be [H, W, 3], got {list(rgb.shape)}")
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    return ParsingMasks(
        face=(b > 254) & (r == 0) & (g == 0),
        mouth=(r == 100) & (g == 100) & (b == 100),
        hair=(r < 1) & (g < 1) & (b < 1),
        neck=(g > 254) & (r == 0) & (b == 0),
        torso=(r > 254) & (g == 0) & (b == 0),
    )


def parsing_from_labels(labels: np.ndarray) -> np.ndarray:
    """Colour a [H, W] `Region` label map into the [H, W, 3] uint8 RGB parsing image."""
    lut = np.zeros((max(Region) + 1, 3), dtype=np.uint8)
    for region, colour in REGION_RGB.items():
        lut[int(region)] = colour
    return lut[labels.astype(np.int64)]


__all__ = ["REGION_RGB", "ParsingMasks", "Region", "masks_from_parsing", "parsing_from_labels"]
