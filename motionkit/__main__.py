"""``python -m motionkit``: the ``motionkit`` command."""

import sys

from motionkit.cli import main

sys.exit(main())
