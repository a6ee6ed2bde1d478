"""The talking-head model: tri-plane encoder, audio and expression networks, branches, composition.

Public API:

- `TriPlaneEncoder` / `TriPlaneConfig` (``FACE_TRIPLANE``, ``MOUTH_TRIPLANE``): spatial features f_s.
- `AudioNet` / `AudioNetConfig`: audio window [8, steps, C] -> f_a [32].
- `ExpressionNet` / `ExpressionConfig`, `face_au_vector`, ``FACE_AU_COLUMNS``: AUs -> f_e [6].
- `Branch` / `BranchConfig` / `BranchRender`: Gaussians + encoder + audio net + fusion plugin.
- `TalkingHead` / `TalkingHeadConfig` / `HeadRender`, `compose` (Eq. 10), `build_rasterizer`.
"""

from pgs.core.model.audio_net import AudioNet, AudioNetConfig
from pgs.core.model.branch import Branch, BranchConfig, BranchRender, build_fusion
from pgs.core.model.expression import FACE_AU_COLUMNS, ExpressionConfig, ExpressionNet, face_au_vector
from pgs.core.model.init import knn_mean_sq_dist, random_gaussians
from pgs.core.model.talking_head import (
    HeadRender,
    TalkingHead,
    TalkingHeadConfig,
    build_rasterizer,
    compose,
    expand_background,
)
from pgs.core.model.triplane import (
    FACE_TRIPLANE,
    MOUTH_TRIPLANE,
    TriPlaneConfig,
    TriPlaneEncoder,
    level_resolutions,
)

__all__ = [
    "FACE_AU_COLUMNS",
    "FACE_TRIPLANE",
    "MOUTH_TRIPLANE",
    "AudioNet",
    "AudioNetConfig",
    "Branch",
    "BranchConfig",
    "BranchRender",
    "ExpressionConfig",
    "ExpressionNet",
    "HeadRender",
    "TalkingHead",
    "TalkingHeadConfig",
    "TriPlaneConfig",
    "TriPlaneEncoder",
    "build_fusion",
    "build_rasterizer",
    "compose",
    "expand_background",
    "face_au_vector",
    "knn_mean_sq_dist",
    "level_resolutions",
    "random_gaussians",
]
