"""Datasets for training and evaluating motionkit: the procedural synthetic talking-face world."""
