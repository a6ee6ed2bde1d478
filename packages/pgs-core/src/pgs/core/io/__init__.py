"""File formats of pgs-core: PLY export/import of Gaussians in the standard 3DGS layout."""

from pgs.core.io.ply import load_ply, ply_property_names, save_ply

__all__ = ["load_ply", "ply_property_names", "save_ply"]
