"""``python -m pipelines.parsing.native [--force]``: build the native HMAC library (``make install``)."""

import subprocess
import sys

from pipelines.parsing.native import build

try:
    print(f"built {build(force='--force' in sys.argv)}")
except (OSError, subprocess.CalledProcessError) as exc:
    # Not fatal: the tokens are the same from the Python fallback, only slower.
    print(f"native HMAC not built ({exc}); pseudonyms will be hashed in Python", file=sys.stderr)
