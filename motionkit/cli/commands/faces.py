"""``motionkit faces``: draw what the face stack sees (boxes, landmarks, head pose) onto an image or a video."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image

from motionkit.cli.common import (
    HelpFormatter,
    add_overwrite_option,
    check_input_file,
    check_output,
    check_suffix,
    resolve_device,
)
from motionkit.errors import ImageError
from motionkit.face.draw import draw_faces
from motionkit.face.stack import Face, FaceStack, FaceStackConfig
from motionkit.face.tracking import FaceTracker
from motionkit.io.image import load_image
from motionkit.io.video import VideoWriter, read_video

DESCRIPTION = """\
Find the faces in an image or a video with motionkit's face stack (MediaPipe's detector and 468-point face mesh,
in PyTorch) and draw them: detection box, landmarks, head-pose axes and yaw/pitch/roll in degrees. Faces are
numbered largest first. Videos are tracked frame to frame (one face, re-detected when lost) and smoothed.
Prints one JSON line per image or frame with each face's box, pose and measurements.

examples:
  motionkit faces portrait.jpg -o faces.png
  motionkit faces talking.mp4 -o faces.mp4 --detector full
"""

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")
"""Inputs read as videos (anything else is read as an image)."""

IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".webp")
"""Annotated image formats."""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "faces",
        parents=parents,
        help="draw the detected faces, landmarks and head pose onto an image or video",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("input", type=Path, metavar="IMAGE_OR_VIDEO", help="image or video file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="annotated image (.png, .jpg) or video (.mp4)")
    parser.add_argument(
        "--detector", choices=("short", "full"), default="short", help="short: faces within ~2 m; full: smaller ones"
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def _record(faces: list[Face]) -> list[dict[str, object]]:
    return [
        {
            "box": [round(v, 1) for v in face.box],
            "yaw": round(face.pose.yaw, 2),
            "pitch": round(face.pose.pitch, 2),
            "roll": round(face.pose.roll, 2),
            "mouth_open": round(face.measures.mouth_open, 3),
            "eyes": [round(face.measures.right_eye, 3), round(face.measures.left_eye, 3)],
        }
        for face in faces
    ]


def run(args: argparse.Namespace) -> int:
    source = check_input_file(args.input, ImageError, "input image or video")
    output = check_output(args.output, args.overwrite, "annotated output")
    video = source.suffix.lower() in VIDEO_SUFFIXES
    check_suffix(output, (".mp4",) if video else IMAGE_OUTPUTS, "annotated video" if video else "annotated image")
    stack = FaceStack(resolve_device(args.device), FaceStackConfig(detector=args.detector))
    if video:
        frames, fps, audio = read_video(source)
        tracker = FaceTracker(stack, fps=fps)
        with VideoWriter(output, fps=fps, audio=audio, overwrite=args.overwrite) as writer:
            for number, frame in enumerate(frames):
                face = tracker.update(frame)
                found = [face] if face is not None else []
                print(json.dumps({"frame": number, "faces": _record(found)}))
                writer.write(draw_faces(frame, found)[None])
        return 0
    image = load_image(source)
    faces = stack.faces(image)
    print(json.dumps({"image": str(source), "faces": _record(faces)}))
    Image.fromarray(draw_faces(image, faces)).save(output)
    return 0
