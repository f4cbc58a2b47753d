"""Drawing what the face stack sees onto an image: detection boxes, landmarks, head-pose axes and angles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from motionkit.face.stack import Face

NOSE_TIP = 1
"""The mesh landmark the pose axes start from."""

AXIS_COLOURS = ((230, 40, 40), (40, 200, 40), (60, 110, 255))
"""Colours of the head's x (towards its left ear), y (up) and z (out of the face) axes."""

BOX_COLOUR, POINT_COLOUR, TEXT_COLOUR = (255, 210, 0), (0, 255, 255), (255, 255, 255)
"""Detection box, landmark and label colours."""

AXIS_LENGTH = 0.5
"""Drawn axis length, as a fraction of the face's width."""


def draw_faces(image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 with each face's box, landmarks, pose axes and angles drawn on it.

    Faces are labelled by their index (0: the largest), the number ``FaceStack.face(image, index)`` takes.
    """
    canvas = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(canvas)
    for index, face in enumerate(faces):
        x0, y0, x1, _ = face.box
        width = max(x1 - x0, 1.0)
        radius = max(0.6, width / 250)
        if face.detection is not None:
            draw.rectangle(face.detection.box, outline=BOX_COLOUR, width=max(1, round(width / 100)))
        for x, y, _ in face.points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=POINT_COLOUR)
        origin = face.points[NOSE_TIP, :2]
        for axis, colour in enumerate(AXIS_COLOURS):
            direction = face.pose.rotation[:, axis] * np.array([1.0, -1.0, -1.0])  # camera frame -> image axes
            tip = origin + AXIS_LENGTH * width * direction[:2]
            draw.line((*origin, *tip), fill=colour, width=max(1, round(width / 80)))
        pose = face.pose
        label = f"{index}: yaw {pose.yaw:+.0f} pitch {pose.pitch:+.0f} roll {pose.roll:+.0f}"
        draw.text((x0, max(0.0, y0 - 14)), label, fill=TEXT_COLOUR)
    return np.asarray(canvas).copy()
