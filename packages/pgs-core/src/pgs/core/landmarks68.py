"""The 68-point iBUG 300-W landmark layout and its correspondence with MediaPipe's 478-point face mesh.

The talking-head metrics (LMD) and the dataset tools speak the 68-point iBUG layout that
face-alignment's FAN and dlib produce:

====================  ===========  =====================================================
region                indices      order
====================  ===========  =====================================================
jaw                   0-16         from the subject's right ear (image left) to the left
right brow            17-21        outer to inner
left brow             22-26        inner to outer
nose bridge           27-30        top to tip
nose base             31-35        image left to right
right eye             36-41        outer corner, upper lid, inner corner, lower lid
left eye              42-47        inner corner, upper lid, outer corner, lower lid
outer lip             48-59        left corner 48, upper lip 49-53 (51 = centre), right corner 54,
                                   lower lip 55-59 (57 = centre)
inner lip             60-67        left corner 60, upper 61-63 (62 = centre), right corner 64,
                                   lower 65-67 (66 = centre)
====================  ===========  =====================================================

`MEDIAPIPE_TO_IBUG68` picks, for each iBUG point, one vertex of MediaPipe's canonical face mesh
(468 mesh vertices + 10 iris points = 478, as the Face Landmarker returns them). How it was chosen:
it is the correspondence table published with GeneFace++ (``index_lm68_from_lm478``,
yerfor/GeneFacePlusPlus), which we checked against the mesh's own lip, eye and contour loops
(``FACEMESH_LIPS``: outer lip 61-40-37-0-267-270-291 above and 291-321-314-17-84-91-61 below,
every second vertex of MediaPipe's lip loop; inner lip 78-81-13-311-308 and 308-402-14-178;
eyes from the eye-lid loops; chin 152) and on real frames (the mapped points keep the iBUG left to
right and top to bottom order; see pgs-eval's tests). Mesh vertices and FAN points are not defined
the same way (the jaw line especially: FAN follows the visible outline, the mesh is fixed on the
face), so landmarks mapped from MediaPipe are close to, but not interchangeable with, FAN's:
compute predicted and ground-truth landmarks with the same source.
"""

from __future__ import annotations

#: MediaPipe Face Landmarker vertex index for each of the 68 iBUG points (row i = iBUG point i).
MEDIAPIPE_TO_IBUG68: tuple[int, ...] = (
    # jaw 0-16
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
    # right brow 17-21, left brow 22-26
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose bridge 27-30, nose base 31-35
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    # right eye 36-41, left eye 42-47
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lip 48-59
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
    # inner lip 60-67
    78, 81, 13, 311, 308, 402, 14, 178,
)

#: Number of points in the Face Landmarker output (468 mesh vertices + 10 iris points).
MEDIAPIPE_NUM_LANDMARKS = 478

#: Slices of the iBUG layout.
JAW = slice(0, 17)
BROWS = slice(17, 27)
NOSE = slice(27, 36)
EYES = slice(36, 48)
MOUTH = slice(48, 68)
OUTER_LIP = slice(48, 60)
INNER_LIP = slice(60, 68)

#: Mouth indices 48-67 as MediaPipe vertex indices (the LMD points).
MEDIAPIPE_MOUTH: tuple[int, ...] = MEDIAPIPE_TO_IBUG68[MOUTH]

if len(MEDIAPIPE_TO_IBUG68) != 68:  # pragma: no cover - guards the table above
    raise RuntimeError("MEDIAPIPE_TO_IBUG68 must have 68 entries")

__all__ = [
    "BROWS",
    "EYES",
    "INNER_LIP",
    "JAW",
    "MEDIAPIPE_MOUTH",
    "MEDIAPIPE_NUM_LANDMARKS",
    "MEDIAPIPE_TO_IBUG68",
    "MOUTH",
    "NOSE",
    "OUTER_LIP",
]
