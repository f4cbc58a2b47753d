"""The photo family's motion model, trained on the synthetic world's speech and true parameters (no rendering).

``train_photo_motion(out_dir)`` (``motionkit train --preset photo-motion``) generates the clips, trains the flow
model with the mel encoder, exports the model folder and evaluates it (:func:`evaluate_photo_motion`).
"""

from motionkit.train.photo.config import PhotoMotionRecipe
from motionkit.train.photo.evaluation import PhotoEvaluation, evaluate_photo_motion
from motionkit.train.photo.recipe import train_photo_motion

__all__ = ["PhotoEvaluation", "PhotoMotionRecipe", "evaluate_photo_motion", "train_photo_motion"]
