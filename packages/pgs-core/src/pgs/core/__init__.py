"""PGSTalker toolkit core: interfaces, plugin registry, Gaussians, rendering, model, training, data, CLI.

`pgs` is a PEP 420 namespace package shared by every toolkit distribution; this module is the
root of the `pgs-core` distribution. The public API is re-exported here lazily (PEP 562), so
``import pgs.core`` is cheap and the names below load their module on first use::

    from pgs.core import TrainConfig, load_config, start_run, load_head, drive, registry

- configs: `TrainConfig`, `load_config`, `read_config_file`, `validate_config_data`, `ComponentConfig`;
- training: `Trainer`, `start_run`, `resume_run`, `load_checkpoint`, `save_checkpoint`;
- inference: `load_head`, `encode_driving_audio`, `drive`, `to_uint8`, `write_mp4`;
- data: `SpeakerDataset`, `Frame`, `generate_speaker`, `Cameras`, `GaussianParams`;
- rendering: `get_rasterizer`, `RenderResult`, `Rasterizer`;
- plugins: `registry`, `ComponentSpec`, `CommandSpec` and the interfaces `AudioEncoder`,
  `FusionModule`, `DensityStrategy`, `Evaluator`;
- errors: `PgsError`, `ConfigError`, `DataError`, `PluginError`, `MissingWeightsError`;
- files and devices: `atomic_write_text`, `atomic_write_bytes`, `atomic_path`, `resolve_device`.
"""

from importlib.metadata import PackageNotFoundError, version

from pgs.core.lazy import lazy_exports

try:
    __version__ = version("pgs-core")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    # configs
    "TrainConfig": "pgs.core.training.config",
    "load_config": "pgs.core.config",
    "read_config_file": "pgs.core.config",
    "validate_config_data": "pgs.core.config",
    "ComponentConfig": "pgs.core.config",
    # training
    "Trainer": "pgs.core.training.trainer",
    "TrainResult": "pgs.core.training.trainer",
    "start_run": "pgs.core.training.launch",
    "resume_run": "pgs.core.training.launch",
    "load_checkpoint": "pgs.core.training.checkpoint",
    "save_checkpoint": "pgs.core.training.checkpoint",
    # inference
    "LoadedHead": "pgs.core.inference",
    "load_head": "pgs.core.inference",
    "encode_driving_audio": "pgs.core.inference",
    "drive": "pgs.core.inference",
    "to_uint8": "pgs.core.inference",
    "write_mp4": "pgs.core.video",
    "TalkingHead": "pgs.core.model.talking_head",
    # data
    "SpeakerDataset": "pgs.core.data.dataset",
    "Frame": "pgs.core.data.dataset",
    "generate_speaker": "pgs.core.data.synthetic",
    "Cameras": "pgs.core.cameras",
    "GaussianParams": "pgs.core.gaussians",
    "AudioFeatures": "pgs.core.interfaces",
    # rendering
    "get_rasterizer": "pgs.core.rendering.select",
    "RenderResult": "pgs.core.rendering.result",
    "Rasterizer": "pgs.core.interfaces",
    # plugins
    "registry": "pgs.core.registry",
    "ComponentSpec": "pgs.core.registry",
    "CommandSpec": "pgs.core.registry",
    "AudioEncoder": "pgs.core.interfaces",
    "FusionModule": "pgs.core.interfaces",
    "DensityStrategy": "pgs.core.interfaces",
    "Evaluator": "pgs.core.interfaces",
    # errors
    "PgsError": "pgs.core.errors",
    "ConfigError": "pgs.core.errors",
    "DataError": "pgs.core.errors",
    "PluginError": "pgs.core.errors",
    "MissingWeightsError": "pgs.core.errors",
    # files and devices
    "atomic_write_text": "pgs.core.io.atomic",
    "atomic_write_bytes": "pgs.core.io.atomic",
    "atomic_path": "pgs.core.io.atomic",
    "resolve_device": "pgs.core.devices",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, {"__version__": __version__})
