"""A live session from Python: send a speech file at real time, save the frames as they come (docs/serve.md).

Start the server first (``motionkit serve``), then: ``python examples/live_client.py speech.wav frames/``.
"""

import json
import struct
import sys
import threading
import time
from pathlib import Path

import soundfile as sf
from websockets.sync.client import connect

speech, rate = sf.read(sys.argv[1], dtype="float32", always_2d=True)
out = Path(sys.argv[2])
out.mkdir(exist_ok=True)
chunk = rate // 50  # 20 ms of audio per message


def receive(ws) -> None:
    for message in ws:  # binary: a frame; text: ready / applied / stats / error / done
        if isinstance(message, bytes):
            index, audio_time = struct.unpack_from("<Id", message, 4)  # after the 4-byte magic "MKF1"
            (out / f"{index:05d}_{audio_time:07.3f}s.jpg").write_bytes(message[16:])
        else:
            print(json.loads(message))


with connect("ws://127.0.0.1:8000/v1/live", max_size=None) as ws:
    ws.send(json.dumps({"type": "start", "audio": {"encoding": "f32", "sample_rate": rate}}))
    reader = threading.Thread(target=receive, args=(ws,))
    reader.start()
    began = time.perf_counter()
    for k, start in enumerate(range(0, len(speech), chunk)):
        time.sleep(max(0.0, began + k * chunk / rate - time.perf_counter()))  # at real time, like a microphone
        ws.send(speech[start : start + chunk].mean(axis=1).astype("<f4").tobytes())
        if k == 50:
            ws.send(json.dumps({"type": "nod"}))  # takes effect from the next frame
    ws.send(json.dumps({"type": "end"}))
    reader.join()
