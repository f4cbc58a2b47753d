"""Training data: real talking-head videos (decoding, cropping, pair sampling), cached features, synthetic data."""
