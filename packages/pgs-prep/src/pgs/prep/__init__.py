"""pgs-prep: raw talking-head video -> ER-NeRF/TalkingGaussian training folder.

MediaPipe Face Landmarker gives landmarks, head pose and blendshapes; no Basel Face Model,
OpenFace or TensorFlow is needed. Entry point: the ``pgs prep`` command, or `prepare` in Python.

Public names are re-exported lazily (PEP 562): importing the package imports neither torch nor numpy.
"""

from pgs.core.lazy import lazy_exports

_EXPORTS = {
    "PrepConfig": "pgs.prep.config",
    "PrepReport": "pgs.prep.pipeline",
    "prepare": "pgs.prep.pipeline",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
