"""The SyncNet two-stream network with syncnet_python's parameter names and shapes.

Audio stream ``netcnnaud`` + ``netfcaud``: [N, 1, 13, 20] MFCC windows (0.2 s) -> [N, 1024].
Lip stream ``netcnnlip`` + ``netfclip``: [N, 3, 5, 224, 224] five BGR frames, raw 0-255 values
-> [N, 1024]. Embeddings are not normalised. Module indices inside each ``nn.Sequential`` follow
the published layout (ReLU and pooling layers included), so state-dict keys such as
``netcnnlip.18.weight`` [512, 256, 1, 6, 6] line up with ``syncnet_v2.model``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from pgs.core.errors import DataError
from pgs.eval.errors import MissingWeightsError

#: Where the published weights come from (never downloaded at run time).
SYNCNET_WEIGHTS_HELP = (
    "syncnet_v2.model is published by the syncnet_python authors (joonson/syncnet_python, download_model.sh: "
    "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model); some projects mirror it "
    "(e.g. LatentSync's checkpoints/auxiliary/syncnet_v2.model). Download it once and pass its path as the "
    "lse evaluator's `weights`"
)


def _conv2d_block(cin: int, cout: int, **kwargs: object) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, **kwargs), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _conv3d_block(cin: int, cout: int, **kwargs: object) -> list[nn.Module]:
    return [nn.Conv3d(cin, cout, **kwargs), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]


def _head(embedding: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))


class SyncNet(nn.Module):
    """SyncNet (syncnet_python ``S``, ``num_layers_in_fc_layers=1024``).

    Args:
        embedding: output embedding size (1024 for syncnet_v2.model).
    """

    def __init__(self, embedding: int = 1024) -> None:
        super().__init__()
        # audio: 13x20 -> (pool 3, stride (1,2)) 11x9 -> (pool 3, stride 2) 5x4 -> conv (5,4) 1x1
        self.netcnnaud = nn.Sequential(
            *_conv2d_block(1, 64, kernel_size=3, padding=1),
            nn.MaxPool2d(kernel_size=1, stride=1),
            *_conv2d_block(64, 192, kernel_size=3, padding=1),
            nn.MaxPool2d(kernel_size=3, stride=(1, 2)),
            *_conv2d_block(192, 384, kernel_size=3, padding=1),
            *_conv2d_block(384, 256, kernel_size=3, padding=1),
            *_conv2d_block(256, 256, kernel_size=3, padding=1),
            nn.MaxPool2d(kernel_size=3, stride=2),
            *_conv2d_block(256, 512, kernel_size=(5, 4), padding=0),
        )
        self.netfcaud = _head(embedding)
        self.netfclip = _head(embedding)
        # lips: 5x224x224 -> conv (5,7,7) s(1,2,2) 1x109x109 -> pool 54 -> conv s2 26 -> pool 13 -> 3 convs
        # -> pool 6 -> conv (1,6,6) 1x1x1
        self.netcnnlip = nn.Sequential(
            *_conv3d_block(3, 96, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=0),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d_block(96, 256, kernel_size=(1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            *_conv3d_block(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            *_conv3d_block(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            *_conv3d_block(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d_block(256, 512, kernel_size=(1, 6, 6), padding=0),
        )

    def forward_audio(self, mfcc_windows: Tensor) -> Tensor:
        """[N, 1, 13, 20] MFCC windows -> [N, embedding]."""
        if tuple(mfcc_windows.shape[1:]) != (1, 13, 20):
            raise DataError(f"SyncNet audio input must be [N, 1, 13, 20], got {list(mfcc_windows.shape)}")
        return self.netfcaud(self.netcnnaud(mfcc_windows).flatten(1))

    def forward_lips(self, clips: Tensor) -> Tensor:
        """[N, 3, 5, 224, 224] BGR clips with 0-255 values -> [N, embedding]."""
        if tuple(clips.shape[1:]) != (3, 5, 224, 224):
            raise DataError(
                f"SyncNet video input must be [N, 3, 5, 224, 224] (five 224x224 frames), got {list(clips.shape)}"
            )
        return self.netfclip(self.netcnnlip(clips).flatten(1))


def load_syncnet(path: str | Path | None, device: str | torch.device = "cpu") -> SyncNet:
    """Build SyncNet and load a syncnet_python state dict (e.g. ``syncnet_v2.model``).

    Every tensor of the file is copied into the parameter or buffer of the same name (as
    syncnet_python's ``loadParameters`` does); BatchNorm ``num_batches_tracked`` counters may be
    absent (older PyTorch), every other tensor must be present with its published shape.

    Args:
        path: the weight file.
        device: where the model runs.

    Returns:
        The model in eval mode, without gradients.

    Raises:
        MissingWeightsError: `path` is None or does not exist (the message says where to get it).
        DataError: the file is not a SyncNet state dict (names the offending key and shapes).
    """
    if path is None:
        raise MissingWeightsError(f"LSE needs SyncNet weights, none supplied. {SYNCNET_WEIGHTS_HELP}")
    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError(f"{path}: SyncNet weights not found. {SYNCNET_WEIGHTS_HELP}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"{path}: cannot read SyncNet weights as a state dict: {exc}") from None
    if not isinstance(state, dict):
        raise DataError(f"{path}: expected a state dict (name -> tensor), got {type(state).__name__}")
    model = SyncNet()
    own = model.state_dict()
    unknown = [k for k in state if k not in own]
    if unknown:
        raise DataError(f"{path}: not a SyncNet (syncnet_python) state dict; unexpected keys {unknown[:5]}")
    required = [k for k in own if not k.endswith("num_batches_tracked")]
    missing = [k for k in required if k not in state]
    if missing:
        raise DataError(f"{path}: SyncNet state dict lacks {len(missing)} tensors, e.g. {missing[:5]}")
    with torch.no_grad():
        for name, value in state.items():
            if not isinstance(value, Tensor) or tuple(value.shape) != tuple(own[name].shape):
                shape = list(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise DataError(f"{path}: {name} has shape {shape}, SyncNet expects {list(own[name].shape)}")
            own[name].copy_(value)
    return model.eval().requires_grad_(False).to(device)


__all__ = ["SYNCNET_WEIGHTS_HELP", "SyncNet", "load_syncnet"]
