"""pgs-prep: raw talking-head video -> ER-NeRF/TalkingGaussian training folder.

MediaPipe Face Landmarker gives landmarks, head pose and blendshapes; no Basel Face Model,
OpenFace or TensorFlow is needed. Entry point: the ``pgs prep`` command, or `prepare` in Python.
"""

from pgs.prep.config import PrepConfig
from pgs.prep.pipeline import PrepReport, prepare

__all__ = ["PrepConfig", "PrepReport", "prepare"]
