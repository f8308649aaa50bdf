"""Where tests find the repository, their fixtures and ``../shared`` (derived from this file,
never a machine path)."""

from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parent.parent
FIXTURES = ROOT_DIR / "tests" / "fixtures"
# The domain brief and official reference data beside the checkout; tests skip without it.
SHARED = ROOT_DIR.parent / "shared"
