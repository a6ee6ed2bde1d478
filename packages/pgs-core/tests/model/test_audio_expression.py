from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.model import AudioNet, AudioNetConfig, ExpressionNet, face_au_vector
from pgs.core.model.expression import FACE_AU_COLUMNS


@pytest.mark.parametrize(("steps", "channels"), [(16, 29), (2, 1024), (16, 44), (4, 80), (40, 13)])
def test_audio_net_shapes_for_any_encoder(steps, channels):
    net = AudioNet(AudioNetConfig(in_channels=channels))
    window = torch.randn(8, steps, channels)
    out = net(window)
    assert out.shape == (32,)
    batched = net(torch.stack([window, torch.randn(8, steps, channels)]))
    assert batched.shape == (2, 32)
    torch.testing.assert_close(batched[0], out)


def test_audio_net_layer_shapes_follow_talkinggaussian():
    net = AudioNet(AudioNetConfig(in_channels=29))
    convs = [m for m in net.encoder_conv if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (29, 32, 3, 2), (32, 32, 3, 2), (32, 64, 3, 2), (64, 64, 3, 2)]
    att = [m for m in net.attention_conv if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels) for c in att] == [(32, 16), (16, 8), (8, 4), (4, 2), (2, 1)]
    assert net.attention_fc.in_features == 8 and net.attention_fc.out_features == 8


def test_attention_is_a_convex_combination_of_frame_features():
    torch.manual_seed(0)
    net = AudioNet(AudioNetConfig(in_channels=29))
    window = torch.randn(3, 8, 16, 29)
    frames = net.frame_features(window)
    weights = net.attention_weights(frames)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    assert (weights >= 0).all()
    torch.testing.assert_close(net(window), (weights[..., None] * frames).sum(1))
    plain = AudioNet(AudioNetConfig(in_channels=29, attention=False))
    plain.load_state_dict({k: v for k, v in net.state_dict().items() if k.startswith("encoder")})
    torch.testing.assert_close(plain(window), frames.mean(1))


def test_sixteen_steps_reduce_to_one_like_talkinggaussian():
    # Four stride-2 convolutions take 16 steps to exactly 1 (TalkingGaussian squeezes it).
    net = AudioNet(AudioNetConfig(in_channels=29))
    x = torch.randn(8, 29, 16)
    assert net.encoder_conv(x).shape == (8, 64, 1)


def test_audio_net_errors():
    with pytest.raises(ValueError, match="in_channels is not set"):
        AudioNet(AudioNetConfig())
    net = AudioNet(AudioNetConfig(in_channels=29))
    with pytest.raises(ValueError, match=r"\[8, steps, 29\]"):
        net(torch.randn(8, 16, 30))
    with pytest.raises(ValueError, match=r"\[8, steps, 29\]"):
        net(torch.randn(7, 16, 29))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-3.0, 6.0, allow_nan=False), min_size=6, max_size=6))
def test_face_au_vector_clips_only_au45(values):
    raw = torch.tensor(values, dtype=torch.float64)
    out = face_au_vector(raw)
    torch.testing.assert_close(out[:5], raw[:5].float())
    assert out[5].item() == pytest.approx(min(max(values[5], 0.0), 2.0), abs=1e-6)


def test_expression_net_passes_the_blink_through():
    assert FACE_AU_COLUMNS == ("AU01_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU45_r")
    net = ExpressionNet()
    aus = torch.tensor([0.5, 1.0, 0.0, 2.0, 0.3, 1.7])
    out = net(aus)
    assert out.shape == (6,)
    assert out[5].item() == pytest.approx(1.7)
    # Bias-free MLP: zero AUs give zero features; the blink alone does not leak into the others.
    torch.testing.assert_close(net(torch.tensor([0, 0, 0, 0, 0, 1.0])), torch.tensor([0, 0, 0, 0, 0, 1.0]))
    with pytest.raises(ValueError, match=r"\[6\]"):
        net(torch.zeros(5))
