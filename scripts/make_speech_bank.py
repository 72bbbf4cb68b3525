"""Build the speech banks for spoken safe-word calibration (and the benchmark) at install time."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.safeword.bank import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
