"""pgs-fusion: Multimodal Gated Fusion (PGSTalker Eqs. 6-9) and its baselines behind one interface.

Registered in the ``pgs.fusion`` entry-point group:

- ``mgf``: `MGFFusion`, PGSTalker's gated fusion (face Eqs. 8-9, mouth Eqs. 6-7);
- ``concat-mlp``: `ConcatMLPFusion`, TalkingGaussian's channel attention + MLP ("w/o MGF");
- ``cross-attention``: `CrossAttentionFusion`, GaussianTalker's spatial-audio cross-attention.

All share `DeformationHead` (small-initialised last layer, TalkingGaussian output scaling). Build
them through the registry: ``registry("pgs.fusion").create("mgf", {...})``.

Public names are re-exported lazily (PEP 562): importing the package imports neither torch nor numpy.
"""

from pgs.core.lazy import lazy_modules

_EXPORTS = {
    "pgs.fusion.concat_mlp": "ConcatMLPConfig ConcatMLPFusion",
    "pgs.fusion.cross_attention": "CrossAttentionConfig CrossAttentionFusion",
    "pgs.fusion.heads": "DeformationHead HeadConfig split_linear",
    "pgs.fusion.mgf": "MGFConfig MGFFusion",
}

__getattr__, __dir__, __all__ = lazy_modules(__name__, _EXPORTS)
