"""``python -m pipelines.parsing.native [--force]``: build the native HMAC library and the workbook grid
reader (``make install``)."""

import logging
import subprocess
import sys

from pipelines.parsing.native import build, grid_module_path

logging.basicConfig(level=logging.WARNING, format="%(message)s")

try:
    print(f"built {build(force='--force' in sys.argv)}")
    if grid_module_path().exists():
        print(f"built {grid_module_path()}")
except (OSError, subprocess.CalledProcessError) as exc:
    # Not fatal: the tokens are the same from the Python fallback, only slower.
    print(f"native HMAC not built ({exc}); pseudonyms will be hashed in Python", file=sys.stderr)
