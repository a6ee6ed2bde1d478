"""Device selection and naming: re-exported from `pgs.core.devices` (one place for the toolkit)."""

from pgs.core.devices import cpu_name, device_name, resolve_device

__all__ = ["cpu_name", "device_name", "resolve_device"]
