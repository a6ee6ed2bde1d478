"""Head pose -> ER-NeRF/TalkingGaussian cameras: focal-length fit, pose smoothing, OpenGL camera-to-world.

Conventions. MediaPipe's facial transformation matrix ``M`` maps the canonical face model (in
centimetres) into a camera frame with the OpenGL convention (x right, y up, the camera looks down
-z). The folder format fixes the head at the origin and moves the camera, so the world frame is
the head frame and ``transform_matrix = inverse([R | t])`` with R, t taken from ``M``. Points
project as ``u = cx + f X / (-Z)``, ``v = cy - f Y / (-Z)`` (pixel coordinates with pixel
centres at integer + 0.5, as `pgs.core.cameras`).

Scale. TalkingGaussian's head spans about +-0.1 units with the camera about 0.7 units away (its
tracker works in decimetres and divides by 10): one unit is about a metre. We therefore write
centimetres / 100 (`CM_TO_UNITS`), which puts MediaPipe's face landmarks within about +-0.09.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgs.core.cameras import project_opengl as project

#: Centimetres (MediaPipe's canonical face model) to world units (metres, TalkingGaussian scale).
CM_TO_UNITS = 0.01


# ================================================================================ rotations
def orthonormalize(R: np.ndarray) -> np.ndarray:
    """Nearest rotation matrices (SVD), [..., 3, 3] -> [..., 3, 3]."""
    u, _, vt = np.linalg.svd(R)
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., :, 2] *= d[..., None]
    return u @ vt


def matrix_to_quat(R: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] -> unit quaternions [..., 4] (w, x, y, z), w >= 0."""
    R = np.asarray(R, dtype=np.float64)
    m = R.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=1, axis2=2)
    # Four candidate formulas; pick the numerically largest component per matrix.
    cand = np.stack(
        [1 + tr, 1 + 2 * m[:, 0, 0] - tr, 1 + 2 * m[:, 1, 1] - tr, 1 + 2 * m[:, 2, 2] - tr], axis=1
    )
    k = np.argmax(cand, axis=1)
    q = np.empty((m.shape[0], 4))
    s = np.sqrt(np.maximum(cand[np.arange(m.shape[0]), k], 1e-300)) * 2  # 4 * |component|
    for idx in range(4):
        sel = k == idx
        if not sel.any():
            continue
        a, ss = m[sel], s[sel]
        if idx == 0:
            q[sel] = np.stack([ss / 4, (a[:, 2, 1] - a[:, 1, 2]) / ss, (a[:, 0, 2] - a[:, 2, 0]) / ss,
                               (a[:, 1, 0] - a[:, 0, 1]) / ss], 1)
        elif idx == 1:
            q[sel] = np.stack([(a[:, 2, 1] - a[:, 1, 2]) / ss, ss / 4, (a[:, 0, 1] + a[:, 1, 0]) / ss,
                               (a[:, 0, 2] + a[:, 2, 0]) / ss], 1)
        elif idx == 2:
            q[sel] = np.stack([(a[:, 0, 2] - a[:, 2, 0]) / ss, (a[:, 0, 1] + a[:, 1, 0]) / ss, ss / 4,
                               (a[:, 1, 2] + a[:, 2, 1]) / ss], 1)
        else:
            q[sel] = np.stack([(a[:, 1, 0] - a[:, 0, 1]) / ss, (a[:, 0, 2] + a[:, 2, 0]) / ss,
                               (a[:, 1, 2] + a[:, 2, 1]) / ss, ss / 4], 1)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 0] < 0] *= -1
    return q.reshape(*R.shape[:-2], 4)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Quaternions [..., 4] (w, x, y, z; normalised here) -> rotation matrices [..., 3, 3]."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def align_hemisphere(q: np.ndarray) -> np.ndarray:
    """Flip quaternion signs so consecutive ones have a non-negative dot product, [F, 4]."""
    out = np.array(q, dtype=np.float64, copy=True)
    for i in range(1, out.shape[0]):
        if np.dot(out[i], out[i - 1]) < 0:
            out[i] = -out[i]
    return out


# ================================================================================ smoothing
def rotation_vector(R: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] -> axis-angle vectors [..., 3] (angle in [0, pi])."""
    q = matrix_to_quat(R)
    v = q[..., 1:]
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(norm, q[..., :1])
    return np.where(norm > 1e-12, v * (angle / np.maximum(norm, 1e-300)), 2.0 * v)


def smooth_poses(
    shape: np.ndarray, R: np.ndarray, t: np.ndarray, uv: np.ndarray, focal: float, cx: float, cy: float,
    strength: float, lever_cm: float = 10.0, iterations: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Temporally smooth rigid poses that still fit the landmarks (regularised least squares).

    Minimises, over every frame's pose at once,
    ``sum_f |reprojection residual_f|^2 + strength * sum_f |x_{f-1} - 2 x_f + x_{f+1}|^2`` with
    ``x_f = (lever_cm * rotation vector of R_f R_0^T, t_f)``: the second difference (acceleration)
    of the pose, with rotations weighted like the motion of a point `lever_cm` from the head
    centre. Unlike a fixed temporal filter, the landmarks decide how much each frame moves: where
    the head turns fast, 478 landmarks outweigh the penalty and the pose follows them; where it is
    still, landmark noise is averaged out. Gauss-Newton on the sparse (banded) normal equations.

    Args:
        shape: [P, 3] head-frame points.
        R: [F, 3, 3] per-frame fitted rotations (the start).
        t: [F, 3] translations (cm).
        uv: [F, P, 2] observed pixels.
        focal: focal length in pixels.
        cx: principal point x.
        cy: principal point y.
        strength: penalty weight in px^2 per cm^2 of acceleration (0 returns copies).
        lever_cm: distance that turns a rotation (radians) into centimetres.
        iterations: Gauss-Newton steps.

    Returns:
        ([F, 3, 3] rotations, [F, 3] translations).
    """
    import scipy.sparse as sparse
    import scipy.sparse.linalg as sparse_linalg

    R = np.array(R, dtype=np.float64, copy=True)
    t = np.array(t, dtype=np.float64, copy=True)
    F = R.shape[0]
    if strength <= 0 or F < 3:
        return R, t
    ones = np.ones(F - 2)
    second_difference = sparse.diags([ones, -2 * ones, ones], [0, 1, 2], shape=(F - 2, F))
    units = sparse.diags(np.tile([lever_cm] * 3 + [1.0] * 3, F))
    D = (sparse.kron(second_difference, sparse.eye(6)) @ units).tocsr()  # [6(F-2), 6F]
    prior = strength * (D.T @ D)
    reference = R[0].copy()
    for _ in range(iterations):
        r, J = pose_residuals(shape, R, t, uv, focal, cx, cy)
        data = sparse.block_diag(list(np.einsum("fki,fkj->fij", J, J)), format="csr")
        x = np.concatenate([rotation_vector(R @ reference.T), t], 1).reshape(-1)
        gradient = np.einsum("fki,fk->fi", J, r).reshape(-1) + prior @ x
        # The rotation vector's derivative in the left perturbation is taken as the identity
        # (exact at zero angle; head rotations stay well below the angles where it matters).
        step = sparse_linalg.spsolve((data + prior).tocsc(), -gradient).reshape(F, 6)
        R, t = apply_pose_step(R, t, step)
    return R, t


#: Image side at which `fit_cameras`'s `smoothness` is `smooth_poses`'s strength as given.
SMOOTHNESS_REFERENCE_SIDE = 256.0


# ================================================================================ projection
def backproject(uv: np.ndarray, depth: np.ndarray, focal: float, cx: float, cy: float) -> np.ndarray:
    """Pixels [..., 2] at distances `depth` [...] along -z -> OpenGL camera-frame points [..., 3]."""
    x = (uv[..., 0] - cx) / focal * depth
    y = -(uv[..., 1] - cy) / focal * depth
    return np.stack([x, y, -depth], -1)


def to_camera(shape: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Head-frame points [P, 3] (or per frame [F, P, 3]) -> camera frame [F, P, 3].

    Args:
        shape: [P, 3] or [F, P, 3] head-frame points.
        R: [F, 3, 3] rotations.
        t: [F, 3] translations.
    """
    if shape.ndim == 3:
        return np.einsum("fij,fpj->fpi", R, shape) + t[:, None, :]
    return np.einsum("fij,pj->fpi", R, shape) + t[:, None, :]


def reprojection_errors(
    shape: np.ndarray, R: np.ndarray, t: np.ndarray, uv: np.ndarray, focal: float, cx: float, cy: float
) -> np.ndarray:
    """[F, P] pixel distances between projected `shape` ([P, 3] or [F, P, 3]) and observed `uv` [F, P, 2]."""
    return np.linalg.norm(project(to_camera(shape, R, t), focal, cx, cy) - uv, axis=-1)


def _skew(v: np.ndarray) -> np.ndarray:
    """[..., 3] -> [..., 3, 3] cross-product matrices."""
    z = np.zeros(v.shape[:-1])
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([np.stack([z, -w, y], -1), np.stack([w, z, -x], -1), np.stack([-y, x, z], -1)], -2)


def rodrigues(omega: np.ndarray) -> np.ndarray:
    """Axis-angle vectors [..., 3] -> rotation matrices [..., 3, 3]."""
    theta = np.linalg.norm(omega, axis=-1, keepdims=True)[..., None]
    k = _skew(omega)
    small = theta < 1e-12
    a = np.where(small, 1.0, np.sin(theta) / np.where(small, 1.0, theta))
    b = np.where(small, 0.5, (1 - np.cos(theta)) / np.where(small, 1.0, theta**2))
    return np.eye(3) + a * k + b * (k @ k)


def pose_residuals(
    shape: np.ndarray, R: np.ndarray, t: np.ndarray, uv: np.ndarray, focal: float, cx: float, cy: float
) -> tuple[np.ndarray, np.ndarray]:
    """Reprojection residuals of rigid poses and their Jacobian in the left perturbation (w, t).

    The perturbation is ``R <- exp([w]x) R``, ``t <- t + dt``; with ``q = R X`` the camera point is
    ``p = q + t`` and ``dp/dw = -[q]x``, ``dp/dt = I``.

    Args:
        shape: [P, 3] head-frame points.
        R: [F, 3, 3] rotations.
        t: [F, 3] translations.
        uv: [F, P, 2] observed pixels.
        focal: focal length in pixels.
        cx: principal point x.
        cy: principal point y.

    Returns:
        ([F, 2P] residuals, all u then all v; [F, 2P, 6] Jacobian, columns (w, t)).
    """
    q = np.einsum("fij,pj->fpi", R, shape)
    p = q + t[:, None, :]
    zc = np.maximum(-p[..., 2], 1e-6)  # distance in front of the camera
    r = np.concatenate([cx + focal * p[..., 0] / zc - uv[..., 0], cy - focal * p[..., 1] / zc - uv[..., 1]], 1)
    # du/dp = f (1/zc, 0, X/zc^2); dv/dp = -f (0, 1/zc, Y/zc^2)   (zc = -Z)
    du = np.stack([focal / zc, np.zeros_like(zc), focal * p[..., 0] / zc**2], -1)
    dv = np.stack([np.zeros_like(zc), -focal / zc, -focal * p[..., 1] / zc**2], -1)
    dpt = np.concatenate([du, dv], 1)  # [F, 2P, 3] = d(residual)/dt
    # a^T dp/dw = a^T (-[q]x) = (q x a)^T for each residual row a.
    dpw = np.cross(np.concatenate([q, q], 1), dpt)
    return r, np.concatenate([dpw, dpt], -1)


def apply_pose_step(R: np.ndarray, t: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poses after a left perturbation `step` [F, 6] = (w, dt): ``(exp([w]x) R, t + dt)``."""
    return rodrigues(step[:, :3]) @ R, t + step[:, 3:]


def fit_poses(
    shape: np.ndarray, R0: np.ndarray, t0: np.ndarray, uv: np.ndarray, focal: float, cx: float, cy: float,
    iterations: int = 6,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame rigid poses minimising the reprojection error (Gauss-Newton on SO(3) x R^3).

    Args:
        shape: [P, 3] head-frame points.
        R0: [F, 3, 3] initial rotations.
        t0: [F, 3] initial translations.
        uv: [F, P, 2] observed pixels.
        focal: focal length in pixels.
        cx: principal point x.
        cy: principal point y.
        iterations: Gauss-Newton steps.

    Returns:
        ([F, 3, 3] rotations, [F, 3] translations).
    """
    R = np.array(R0, dtype=np.float64, copy=True)
    t = np.array(t0, dtype=np.float64, copy=True)
    for _ in range(iterations):
        r, J = pose_residuals(shape, R, t, uv, focal, cx, cy)
        JtJ = np.einsum("fki,fkj->fij", J, J) + 1e-9 * np.eye(6)
        step = -np.linalg.solve(JtJ, np.einsum("fki,fk->fi", J, r)[..., None])[..., 0]
        R, t = apply_pose_step(R, t, step)
    return R, t


def reconstruct_shape(
    uv: np.ndarray, depth: np.ndarray, R: np.ndarray, t: np.ndarray, focal: float, cx: float, cy: float
) -> np.ndarray:
    """Head-frame landmark positions: the mean over frames of back-projected, inverse-posed landmarks.

    Args:
        uv: [F, P, 2] pixels.
        depth: [F, P] distances in front of the camera.
        R: [F, 3, 3] rotations.
        t: [F, 3] translations.
        focal: focal length in pixels.
        cx: principal point x.
        cy: principal point y.

    Returns:
        [P, 3] points in the head frame.
    """
    cam = backproject(uv, depth, focal, cx, cy)
    head = np.einsum("fji,fpj->fpi", R, cam - t[:, None, :])  # R^T (p - t)
    return head.mean(axis=0)


@dataclass
class CameraFit:
    """Result of `fit_cameras`.

    Attributes:
        focal: focal length in pixels.
        shape: [P, 3] head-frame landmark positions (cm, MediaPipe's canonical frame).
        rotations: [F, 3, 3] smoothed head rotations (head -> OpenGL camera).
        translations: [F, 3] smoothed translations (cm).
        errors: [F, P] reprojection errors in pixels of the tracked landmarks (`shape` plus
            each frame's expression offsets) with the final (smoothed) cameras.
        rigid_errors: [F, P] the same for the rigid `shape` alone (no expression).
        expression_basis: [K, P, 3] expression components (cm, head frame).
        expression: [F, K] per-frame expression coefficients.
    """

    focal: float
    shape: np.ndarray
    rotations: np.ndarray
    translations: np.ndarray
    errors: np.ndarray
    rigid_errors: np.ndarray
    expression_basis: np.ndarray
    expression: np.ndarray

    def frame_shapes(self) -> np.ndarray:
        """[F, P, 3] tracked head-frame landmarks: the rigid shape plus each frame's expression."""
        return self.shape[None] + np.einsum("fk,kpi->fpi", self.expression, self.expression_basis)

    @property
    def frame_errors(self) -> np.ndarray:
        """[F] mean landmark reprojection error per frame (pixels)."""
        return self.errors.mean(axis=1)


def _alternate(
    uv: np.ndarray, R: np.ndarray, t: np.ndarray, shape: np.ndarray,
    focal: float, cx: float, cy: float, rounds: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few rounds of (poses | shape) then (shape | poses), ending with poses."""
    for _ in range(rounds):
        R, t = fit_poses(shape, R, t, uv, focal, cx, cy)
        depth = -to_camera(shape, R, t)[..., 2]
        shape = reconstruct_shape(uv, depth, R, t, focal, cx, cy)
    R, t = fit_poses(shape, R, t, uv, focal, cx, cy)
    return shape, R, t


def _search_focal(
    uv: np.ndarray, R0: np.ndarray, t0: np.ndarray, shape0: np.ndarray, f0: float, cx: float, cy: float,
    size: float,
) -> float:
    """Golden-section search over log f in [0.3, 8] x `size` for the smallest median reprojection error.

    Each candidate f scales the start translations by f / `f0` (the head keeps its image size)
    and runs one pose/shape round (`_alternate`).

    Args:
        uv: [F, P, 2] landmarks in pixels (the search subset).
        R0: [F, 3, 3] start rotations.
        t0: [F, 3] start translations for focal length `f0`.
        shape0: [P, 3] start head-frame shape.
        f0: the focal length of `t0` (MediaPipe's camera).
        cx: principal point x.
        cy: principal point y.
        size: the image's larger side in pixels.

    Returns:
        The focal length in pixels.
    """

    def search_error(f: float) -> float:
        shape, R, t = _alternate(uv, R0, t0 * (f / f0), shape0, f, cx, cy, 1)
        return float(np.median(reprojection_errors(shape, R, t, uv, f, cx, cy).mean(axis=1)))

    lo, hi = np.log(0.3 * size), np.log(8.0 * size)
    g = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = search_error(np.exp(a)), search_error(np.exp(b))
    for _ in range(12):  # bracket shrinks to 0.618^12 ~ 0.3 % of log(8 / 0.3): ~1 % in f
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = search_error(np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = search_error(np.exp(b))
    return float(np.exp((lo + hi) / 2.0))


def fit_cameras(
    uv: np.ndarray, z_rel: np.ndarray, matrices: np.ndarray, width: int, height: int, *,
    mediapipe_fov_deg: float = 63.0, focal: float | None = None, smoothness: float = 1000.0,
    search_frames: int = 60, search_points: int = 160, rounds: int = 2,
    expression_components: int = 8,
) -> CameraFit:
    """Fit a shared focal length, a rigid head-frame landmark shape and per-frame poses.

    Start: MediaPipe's rotations and translations, and 3D landmarks from MediaPipe's own camera
    (vertical field of view `mediapipe_fov_deg`): each landmark is back-projected at the head
    depth plus its relative depth, inverse-posed, and averaged over frames. For a candidate focal
    length f the translations are first scaled by f / f0 (the head keeps its image size), then
    poses (Gauss-Newton) and shape (back-projection average) alternate. A golden-section search
    over log f, on a subset of frames and landmarks, picks the f with the smallest median
    per-frame reprojection error; the final fit uses every frame and landmark. The poses are then
    smoothed over time against the landmarks (`smooth_poses`), and the errors are measured on the
    smoothed poses.

    Args:
        uv: [F, P, 2] detected landmarks in pixels.
        z_rel: [F, P] MediaPipe's relative landmark depth (units of image width).
        matrices: [F, 4, 4] facial transformation matrices (cm, OpenGL camera).
        width: image width.
        height: image height.
        mediapipe_fov_deg: MediaPipe's assumed vertical field of view.
        focal: fix the focal length (pixels) instead of searching.
        smoothness: `smooth_poses` strength, px^2 per cm^2 of pose acceleration, for a 256-pixel image
            side (`SMOOTHNESS_REFERENCE_SIDE`); scaled by the square of the larger image side over
            256, because landmark residuals in pixels grow with the image, so the same value
            smooths alike at every size (0: per-frame poses).
        search_frames: at most this many frames (evenly spaced) in the focal search.
        search_points: at most this many landmarks (evenly spaced indices) in the focal search.
        rounds: pose/shape alternation rounds.
        expression_components: K, the number of principal components of the per-frame
            head-frame landmark offsets kept as the expression model (like a 3DMM tracker's
            expression coefficients; 0 = rigid only).

    Returns:
        The fit.
    """
    uv = np.asarray(uv, dtype=np.float64)
    mats = np.asarray(matrices, dtype=np.float64)
    F, P = uv.shape[:2]
    if F == 0:
        raise ValueError("fit_cameras needs at least one frame")
    cx, cy = width / 2.0, height / 2.0
    R0 = orthonormalize(mats[:, :3, :3])
    t_mp = mats[:, :3, 3]
    f0 = (height / 2.0) / np.tan(np.deg2rad(mediapipe_fov_deg) / 2.0)
    d_head = np.maximum(-t_mp[:, 2], 1e-3)
    depth0 = d_head[:, None] * (1.0 + np.asarray(z_rel, dtype=np.float64) * width / f0)
    shape0 = reconstruct_shape(uv, depth0, R0, t_mp, f0, cx, cy)

    if focal is None:
        fs = np.unique(np.linspace(0, F - 1, min(F, search_frames)).round().astype(int))
        ps = np.unique(np.linspace(0, P - 1, min(P, search_points)).round().astype(int))
        focal = _search_focal(
            uv[fs][:, ps], R0[fs], t_mp[fs], shape0[ps], f0, cx, cy, float(max(width, height))
        )
    if not focal > 0:
        raise ValueError(f"focal length must be positive, got {focal}")
    shape, R, t = _alternate(uv, R0, t_mp * (focal / f0), shape0, focal, cx, cy, rounds)
    basis, coeffs = expression_model(uv, shape, R, t, focal, cx, cy, expression_components)
    strength = smoothness * (max(width, height) / SMOOTHNESS_REFERENCE_SIDE) ** 2
    R, t = smooth_poses(shape, R, t, uv, focal, cx, cy, strength)
    shapes = shape[None] + np.einsum("fk,kpi->fpi", coeffs, basis)
    return CameraFit(
        focal=float(focal), shape=shape, rotations=R, translations=t,
        errors=reprojection_errors(shapes, R, t, uv, focal, cx, cy),
        rigid_errors=reprojection_errors(shape, R, t, uv, focal, cx, cy),
        expression_basis=basis, expression=coeffs,
    )


def expression_model(
    uv: np.ndarray, shape: np.ndarray, R: np.ndarray, t: np.ndarray, focal: float, cx: float, cy: float,
    components: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Principal components of the per-frame non-rigid landmark offsets in the head frame.

    Each frame's landmarks are back-projected at the rigid shape's depths and inverse-posed; their
    offsets from the rigid shape are reduced by PCA (SVD) to `components` components.

    Returns:
        ([K, P, 3] basis, [F, K] coefficients), K = min(components, F).
    """
    F, P = uv.shape[:2]
    k = int(min(max(components, 0), F))
    if k == 0:
        return np.zeros((0, P, 3)), np.zeros((F, 0))
    depth = -to_camera(shape, R, t)[..., 2]
    head = np.einsum("fji,fpj->fpi", R, backproject(uv, depth, focal, cx, cy) - t[:, None, :])
    offsets = (head - shape[None]).reshape(F, -1)
    _, _, vt = np.linalg.svd(offsets, full_matrices=False)
    basis = vt[:k]
    return basis.reshape(k, P, 3), offsets @ basis.T


def head_centre(shape: np.ndarray) -> np.ndarray:
    """[3] centre of the bounding box of the head-frame landmarks (the world origin)."""
    return (shape.min(axis=0) + shape.max(axis=0)) / 2.0


def camera_to_world(
    R: np.ndarray, t: np.ndarray, centre: np.ndarray, scale: float = CM_TO_UNITS
) -> np.ndarray:
    """OpenGL camera-to-world ``transform_matrix`` per frame, head at the origin.

    The world frame is the head frame shifted by `centre` and scaled by `scale`:
    ``X_world = scale * (X_head - centre)``. The camera sees ``R X_head + t``, i.e.
    ``w2c = [R | scale * (R centre + t)]`` in world units.

    Args:
        R: [F, 3, 3] head -> camera rotations.
        t: [F, 3] translations (cm).
        centre: [3] head-frame point that becomes the world origin (cm).
        scale: head-frame units -> world units.

    Returns:
        [F, 4, 4] camera-to-world matrices.
    """
    F = R.shape[0]
    w2c = np.zeros((F, 4, 4))
    w2c[:, :3, :3] = R
    w2c[:, :3, 3] = scale * (np.einsum("fij,j->fi", R, centre) + t)
    w2c[:, 3, 3] = 1.0
    c2w = np.zeros_like(w2c)
    c2w[:, :3, :3] = np.transpose(R, (0, 2, 1))
    c2w[:, :3, 3] = -np.einsum("fji,fj->fi", R, w2c[:, :3, 3])
    c2w[:, 3, 3] = 1.0
    return c2w


__all__ = [
    "CM_TO_UNITS",
    "SMOOTHNESS_REFERENCE_SIDE",
    "CameraFit",
    "align_hemisphere",
    "backproject",
    "camera_to_world",
    "fit_cameras",
    "expression_model",
    "fit_poses",
    "pose_residuals",
    "apply_pose_step",
    "rodrigues",
    "head_centre",
    "matrix_to_quat",
    "orthonormalize",
    "project",
    "quat_to_matrix",
    "reconstruct_shape",
    "reprojection_errors",
    "rotation_vector",
    "smooth_poses",
    "to_camera",
]
