"""PLY export and import of Gaussians in the standard 3DGS vertex layout.

Vertex properties, all float32, in this order (as written by the Inria 3DGS code and read by
common Gaussian viewers): ``x y z nx ny nz f_dc_0..2 f_rest_0..(3*(K-1)-1) opacity scale_0..2
rot_0..3``. ``f_dc`` is the degree-0 SH coefficient per colour channel; ``f_rest`` holds the
higher coefficients channel-major (all of R, then G, then B); ``opacity`` is the logit, ``scale_*``
the log-scales and ``rot_*`` the raw (w, x, y, z) quaternion: exactly the `GaussianParams`
tensors, so a float32 round trip is bit-exact. Files are binary little endian; writing is
atomic (a temporary file in the same folder, then a rename).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from pgs.core.errors import DataError
from pgs.core.gaussians import GaussianParams, sh_degree_from_coeffs
from pgs.core.io.atomic import atomic_write_bytes

_PLY_TYPES = {
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
    "uchar": "u1", "uint8": "u1", "char": "i1", "int8": "i1",
    "ushort": "u2", "uint16": "u2", "short": "i2", "int16": "i2",
    "uint": "u4", "uint32": "u4", "int": "i4", "int32": "i4",
}


def ply_property_names(sh_degree: int) -> list[str]:
    """The vertex property names of the 3DGS layout for SH degree `sh_degree`."""
    rest = 3 * ((sh_degree + 1) ** 2 - 1)
    return (
        ["x", "y", "z", "nx", "ny", "nz"]
        + [f"f_dc_{i}" for i in range(3)]
        + [f"f_rest_{i}" for i in range(rest)]
        + ["opacity"]
        + [f"scale_{i}" for i in range(3)]
        + [f"rot_{i}" for i in range(4)]
    )


def save_ply(gaussians: GaussianParams, path: str | Path) -> Path:
    """Write Gaussians to a binary little-endian PLY file in the 3DGS layout (atomically).

    Args:
        gaussians: N Gaussians (any device; written as float32).
        path: destination ``.ply`` file; its folder is created if needed.

    Returns:
        The path written.
    """
    path = Path(path)
    g = gaussians.detach().to("cpu")
    n, k = g.num, g.sh.shape[1]
    names = ply_property_names(sh_degree_from_coeffs(k))
    columns = [
        g.means,
        torch.zeros(n, 3),
        g.sh[:, 0, :],
        g.sh[:, 1:, :].transpose(1, 2).reshape(n, 3 * (k - 1)),  # channel-major, as 3DGS writes it
        g.opacity_logits[:, None],
        g.log_scales,
        g.quats,
    ]
    data = torch.cat([c.to(torch.float32) for c in columns], dim=1).numpy()
    record = np.empty(n, dtype=[(name, "<f4") for name in names])
    for i, name in enumerate(names):
        record[name] = data[:, i]
    header = "ply\nformat binary_little_endian 1.0\n"
    header += f"element vertex {n}\n"
    header += "".join(f"property float {name}\n" for name in names)
    header += "end_header\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, header.encode("ascii") + record.tobytes())
    return path


def _read_header(path: Path, f) -> tuple[str, int, list[tuple[str, str]], list[str]]:
    first = f.readline()
    if first.strip() != b"ply":
        raise DataError(f"{path}: not a PLY file (first line is {first[:20]!r})")
    fmt, count, props, other = "", -1, [], []
    in_vertex = False
    while True:
        line = f.readline()
        if not line:
            raise DataError(f"{path}: PLY header has no end_header line")
        words = line.decode("ascii", errors="replace").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            break
        if words[0] == "format":
            fmt = words[1] if len(words) > 1 else ""
        elif words[0] == "element":
            in_vertex = len(words) == 3 and words[1] == "vertex"
            if in_vertex:
                count = int(words[2])
            elif count < 0:
                other.append(words[1] if len(words) > 1 else "?")
        elif words[0] == "property" and in_vertex:
            if len(words) != 3 or words[1] == "list":
                raise DataError(f"{path}: unsupported vertex property line {line.decode().strip()!r}")
            if words[1] not in _PLY_TYPES:
                raise DataError(f"{path}: vertex property {words[2]!r} has unknown type {words[1]!r}")
            props.append((words[2], words[1]))
    return fmt, count, props, other


def load_ply(path: str | Path, device: torch.device | str = "cpu") -> GaussianParams:
    """Read Gaussians from a 3DGS-layout PLY file (binary little/big endian or ASCII).

    Args:
        path: the ``.ply`` file.
        device: device of the returned tensors.

    Returns:
        `GaussianParams` (float32); the SH degree follows the number of ``f_rest_*`` properties.

    Raises:
        DataError: the file is missing, is not a PLY file, lacks a vertex element or a required
            property (named in the message), or is truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: PLY file not found")
    with path.open("rb") as f:
        fmt, count, props, other = _read_header(path, f)
        if count < 0:
            raise DataError(f"{path}: PLY file has no 'vertex' element")
        if other:
            raise DataError(f"{path}: elements before 'vertex' are not supported ({other})")
        names = [p for p, _ in props]
        rest = sorted((p for p in names if re.fullmatch(r"f_rest_\d+", p)), key=lambda p: int(p[7:]))
        if len(rest) % 3 != 0:
            raise DataError(f"{path}: {len(rest)} f_rest_* properties is not a multiple of 3")
        k = 1 + len(rest) // 3
        try:
            degree = sh_degree_from_coeffs(k)
        except Exception as exc:
            raise DataError(f"{path}: {len(rest)} f_rest_* properties do not match an SH degree 0..3") from exc
        required = ply_property_names(degree)
        required = [p for p in required if p not in ("nx", "ny", "nz")]
        missing = [p for p in required if p not in names]
        if missing:
            raise DataError(f"{path}: missing vertex propert{'y' if len(missing) == 1 else 'ies'} {missing}")
        if fmt == "ascii":
            text = f.read().decode("ascii").split()
            if len(text) < count * len(props):
                raise DataError(f"{path}: file is truncated ({len(text)} values, expected {count * len(props)})")
            table = np.asarray(text[: count * len(props)], dtype=np.float64).reshape(count, len(props))
            cols = {p: table[:, i] for i, p in enumerate(names)}
        elif fmt in ("binary_little_endian", "binary_big_endian"):
            end = "<" if fmt == "binary_little_endian" else ">"
            dtype = np.dtype([(p, end + _PLY_TYPES[t]) for p, t in props])
            raw = f.read(count * dtype.itemsize)
            if len(raw) < count * dtype.itemsize:
                raise DataError(f"{path}: file is truncated ({len(raw)} of {count * dtype.itemsize} vertex bytes)")
            record = np.frombuffer(raw, dtype=dtype, count=count)
            cols = {p: record[p] for p in names}
        else:
            raise DataError(f"{path}: unsupported PLY format {fmt!r}")

    def stack(keys: list[str]) -> torch.Tensor:
        if not keys:
            return torch.zeros(count, 0)
        return torch.from_numpy(np.stack([np.asarray(cols[key], dtype=np.float32) for key in keys], axis=1))

    f_dc = stack([f"f_dc_{i}" for i in range(3)])
    f_rest = stack(rest).reshape(count, 3, k - 1).transpose(1, 2)
    gaussians = GaussianParams(
        means=stack(["x", "y", "z"]),
        quats=stack([f"rot_{i}" for i in range(4)]),
        log_scales=stack([f"scale_{i}" for i in range(3)]),
        opacity_logits=stack(["opacity"])[:, 0].contiguous(),
        sh=torch.cat([f_dc[:, None, :], f_rest], dim=1).contiguous(),
    )
    return gaussians.to(device)


__all__ = ["load_ply", "ply_property_names", "save_ply"]
