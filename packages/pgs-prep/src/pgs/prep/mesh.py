"""Ordered vertex loops of MediaPipe's 478-point face mesh used to draw region masks.

Each loop is a closed polygon of Face Landmarker vertex indices, in order around the region, read
from the mesh topology (``FaceLandmarksConnections`` of mediapipe lists the same loops as edge
sets; a test checks every consecutive pair below is one of those edges). The 478 -> 68 iBUG map
lives in `pgs.core.landmarks68` (shared with pgs-eval).
"""

from __future__ import annotations

#: Face outline: forehead centre (10) clockwise in the image, down the subject's left side to the
#: chin (152) and back up.
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)

#: Outer lip contour (mouth corners 61 and 291).
LIPS_OUTER: tuple[int, ...] = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
)

#: Inner lip contour: the opening of the mouth (teeth and oral cavity inside it).
LIPS_INNER: tuple[int, ...] = (
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191,
)

#: Eye-lid contours: the subject's left eye (image right) and right eye (image left).
LEFT_EYE: tuple[int, ...] = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE: tuple[int, ...] = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)

#: Eyebrow polygons: the lower edge outer -> inner, then the upper edge inner -> outer (the mesh
#: has the two edges as open chains; the polygon closes them at both ends).
LEFT_EYEBROW: tuple[int, ...] = (276, 283, 282, 295, 285, 336, 296, 334, 293, 300)
RIGHT_EYEBROW: tuple[int, ...] = (46, 53, 52, 65, 55, 107, 66, 105, 63, 70)

#: Jaw angles (image left, image right) and chin: where the face outline turns into the neck.
JAW_LEFT_IMAGE = 172
JAW_RIGHT_IMAGE = 397
CHIN = 152
FOREHEAD = 10

__all__ = [
    "CHIN",
    "FACE_OVAL",
    "FOREHEAD",
    "JAW_LEFT_IMAGE",
    "JAW_RIGHT_IMAGE",
    "LEFT_EYE",
    "LEFT_EYEBROW",
    "LIPS_INNER",
    "LIPS_OUTER",
    "RIGHT_EYE",
    "RIGHT_EYEBROW",
]
