"""Training data: real talking-head videos (decoding, cropping, pair sampling), cached features, and the procedural
synthetic talking-face world."""
