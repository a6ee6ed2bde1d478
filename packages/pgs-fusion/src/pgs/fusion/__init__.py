"""pgs-fusion: Multimodal Gated Fusion (PGSTalker Eqs. 6-9) and its baselines behind one interface.

Registered in the ``pgs.fusion`` entry-point group:

- ``mgf``: `MGFFusion`, PGSTalker's gated fusion (face Eqs. 8-9, mouth Eqs. 6-7);
- ``concat-mlp``: `ConcatMLPFusion`, TalkingGaussian's channel attention + MLP ("w/o MGF");
- ``cross-attention``: `CrossAttentionFusion`, GaussianTalker's spatial-audio cross-attention.

All share `DeformationHead` (small-initialised last layer, TalkingGaussian output scaling). Build
them through the registry: ``registry("pgs.fusion").create("mgf", {...})``.
"""

from pgs.fusion.concat_mlp import ConcatMLPConfig, ConcatMLPFusion
from pgs.fusion.cross_attention import CrossAttentionConfig, CrossAttentionFusion
from pgs.fusion.heads import DeformationHead, HeadConfig, split_linear
from pgs.fusion.mgf import MGFConfig, MGFFusion

__all__ = [
    "ConcatMLPConfig",
    "ConcatMLPFusion",
    "CrossAttentionConfig",
    "CrossAttentionFusion",
    "DeformationHead",
    "HeadConfig",
    "MGFConfig",
    "MGFFusion",
    "split_linear",
]
