"""The synthetic-demo model: the recipe that trains motionkit's bundled model on the synthetic world, and its
evaluation against motionkit's targets. See ``docs/demo-model.md``.

``train_synthetic_demo(out_dir)`` reproduces ``motionkit/assets/models/synthetic-demo``
(``motionkit train --preset synthetic-demo``).
"""

from motionkit.train.demo.calibration import calibrate_axes
from motionkit.train.demo.config import SyntheticDemoConfig
from motionkit.train.demo.evaluation import DemoEvaluation, evaluate_model
from motionkit.train.demo.recipe import train_synthetic_demo

__all__ = ["DemoEvaluation", "SyntheticDemoConfig", "calibrate_axes", "evaluate_model", "train_synthetic_demo"]
