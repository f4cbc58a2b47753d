"""Keep the log lines that MediaPipe's C++ code writes straight to the stderr file descriptor out of the output.

MediaPipe (absl / glog logging, TensorFlow Lite) prints lines such as ``W0000 00:00:1796646880.815292  10856
inference_feedback_manager.cc:114] Feedback manager requires ...`` and ``INFO: Created TensorFlow Lite XNNPACK
delegate for CPU.`` on file descriptor 2, below Python's ``sys.stderr``: they are diagnostics for MediaPipe's
developers, which a user of ``motionkit eval`` cannot act on. :func:`quiet_native_logs` sends descriptor 2 to a
temporary file while MediaPipe runs and copies back every line that is not such an informational or warning line
(errors and anything else are kept).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

NATIVE_NOISE = re.compile(
    r"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] "  # absl / glog INFO and WARNING lines
    r"|INFO: Created TensorFlow Lite"  # TensorFlow Lite's delegate notice
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called)"  # absl's notice about the above
)
"""Lines of MediaPipe's native logging that are dropped; glog's E (error) and F (fatal) lines are kept."""


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Run the block with file descriptor 2 captured; afterwards write its lines, less :data:`NATIVE_NOISE`, to
    ``sys.stderr``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if line.strip() and not NATIVE_NOISE.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
