"""The wav2vec2 encoder layers run with their position-wise part in chunks: identical to the layer's own forward."""

from __future__ import annotations

import pytest
import torch
from conditioner_helpers import TINY_STABLE, TINY_WAV2VEC2, random_wav2vec2

from motionkit.conditioner import backbone
from motionkit.testing.tolerances import assert_rounding_close, layers_depth


@pytest.mark.parametrize("config", [TINY_WAV2VEC2, TINY_STABLE], ids=["post-LN", "pre-LN"])
@pytest.mark.parametrize("frames", [37, 300])
def test_chunked_layer_equals_the_layer(config: dict, frames: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backbone, "FEED_FORWARD_CHUNK_FRAMES", 64)  # 300 frames: 5 chunks, the last one partial
    model = random_wav2vec2(config, seed=3)
    hidden = torch.randn(2, frames, config["hidden_size"], generator=torch.Generator().manual_seed(0))
    pre_norm = bool(model.config.do_stable_layer_norm)
    with torch.no_grad():
        for layer in model.encoder.layers:
            expected = layer(hidden, attention_mask=None)
            expected = expected[0] if isinstance(expected, tuple) else expected
            # the feed-forward part over chunks of frames: other matrix-product blockings of the same sums
            assert_rounding_close(backbone.encoder_layer(layer, hidden, pre_norm), expected, depth=layers_depth(layer))
            hidden = expected
