"""Config fields shared by the image metrics."""

from __future__ import annotations

from pydantic import Field

from pgs.core.config import ComponentConfig
from pgs.eval.regions import Region


class RegionMetricConfig(ComponentConfig):
    """Where an image metric is computed: the face region (the paper's protocol) or the full frame."""

    region: Region = Field(
        "face",
        description=(
            "'face': the face region, from the dataset's parsing masks or else a box around the 68 "
            "ground-truth landmarks (as the paper reports); 'full': the whole frame (TalkingGaussian's metrics.py)."
        ),
    )
    box_margin: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Growth of a landmark face box on each side, as a fraction of its width and height.",
    )


__all__ = ["RegionMetricConfig"]
