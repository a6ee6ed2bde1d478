"""Audio feature network f_a: per-frame encoder features over an 8-frame window -> one vector.

TalkingGaussian / ER-NeRF / RAD-NeRF shape (``AudioNet`` + ``AudioAttNet``):

- per video frame of the window, [channels, steps] -> four Conv1d(k3, s2, p1) with LeakyReLU(0.02)
  (channels -> 32 -> 32 -> 64 -> 64), then Linear(64, 64), LeakyReLU(0.02), Linear(64, dim):
  one `dim`-vector per frame;
- attention over the window: Conv1d over the 8 frames (dim -> 16 -> 8 -> 4 -> 2 -> 1, k3, p1,
  LeakyReLU(0.02)), Linear(8, 8), softmax over the frames, weighted sum -> f_a [dim].

Generalisation (documented): where the strided convolutions leave more than one time step (more
than 16 steps per frame; TalkingGaussian slices the middle 16 instead) the remaining steps are
averaged, so any encoder's steps-per-frame works.
"""

from __future__ import annotations

from pydantic import Field
from torch import Tensor, nn

from pgs.core.config import ComponentConfig
from pgs.core.interfaces import AUDIO_WINDOW

_SLOPE = 0.02


class AudioNetConfig(ComponentConfig):
    """Settings of `AudioNet`."""

    in_channels: int | None = Field(
        None, gt=0, description="Channels of the audio encoder's features (None: set from the data when building)."
    )
    window: int = Field(AUDIO_WINDOW, ge=1, description="Video frames per audio window (TalkingGaussian: 8).")
    dim: int = Field(32, gt=0, description="Output channels of f_a (TalkingGaussian: 32).")
    attention: bool = Field(True, description="Attention over the window (AudioAttNet); False: plain mean.")


class AudioNet(nn.Module):
    """Audio window [window, steps, channels] -> audio feature f_a [dim].

    Args:
        config: settings; ``config.in_channels`` must be set.
    """

    def __init__(self, config: AudioNetConfig) -> None:
        super().__init__()
        if config.in_channels is None:
            raise ValueError("AudioNetConfig.in_channels is not set: pass the audio encoder's channel count")
        self.config = config
        c = config.in_channels

        def conv(i: int, o: int, stride: int) -> list[nn.Module]:
            return [nn.Conv1d(i, o, kernel_size=3, stride=stride, padding=1), nn.LeakyReLU(_SLOPE, inplace=True)]

        self.encoder_conv = nn.Sequential(*conv(c, 32, 2), *conv(32, 32, 2), *conv(32, 64, 2), *conv(64, 64, 2))
        self.encoder_fc = nn.Sequential(
            nn.Linear(64, 64), nn.LeakyReLU(_SLOPE, inplace=True), nn.Linear(64, config.dim)
        )
        if config.attention:
            d = config.dim
            self.attention_conv = nn.Sequential(
                *conv(d, 16, 1), *conv(16, 8, 1), *conv(8, 4, 1), *conv(4, 2, 1), *conv(2, 1, 1)
            )
            self.attention_fc = nn.Linear(config.window, config.window)

    @property
    def output_dim(self) -> int:
        """Channels of f_a."""
        return self.config.dim

    def frame_features(self, window: Tensor) -> Tensor:
        """Per-frame features before attention.

        Args:
            window: [B, window, steps, channels].

        Returns:
            [B, window, dim].
        """
        b, w, steps, c = window.shape
        x = window.reshape(b * w, steps, c).transpose(1, 2)  # [B*W, C, T]
        x = self.encoder_conv(x).mean(dim=-1)  # [B*W, 64]
        return self.encoder_fc(x).view(b, w, -1)

    def attention_weights(self, frames: Tensor) -> Tensor:
        """Softmax weights over the window.

        Args:
            frames: [B, window, dim] per-frame features.

        Returns:
            [B, window] weights summing to 1.
        """
        if not self.config.attention:
            return frames.new_full(frames.shape[:2], 1.0 / frames.shape[1])
        y = self.attention_conv(frames.transpose(1, 2))  # [B, 1, W]
        return self.attention_fc(y[:, 0, :]).softmax(dim=-1)

    def forward(self, window: Tensor) -> Tensor:
        """Compute f_a.

        Args:
            window: [window, steps, channels] or batched [B, window, steps, channels] encoder
                features of frames i-4 .. i+3 (`AudioFeatures.window`).

        Returns:
            [dim] or [B, dim].
        """
        single = window.dim() == 3
        if single:
            window = window[None]
        cfg = self.config
        if window.dim() != 4 or window.shape[1] != cfg.window or window.shape[3] != cfg.in_channels:
            raise ValueError(
                f"AudioNet: audio window must be [{cfg.window}, steps, {cfg.in_channels}] "
                f"(or batched), got {list(window.shape if not single else window.shape[1:])}"
            )
        frames = self.frame_features(window)  # [B, W, dim]
        weights = self.attention_weights(frames)  # [B, W]
        out = (weights[..., None] * frames).sum(dim=1)
        return out[0] if single else out


__all__ = ["AudioNet", "AudioNetConfig"]
