"""``python -m agent``: the same as ``leaktrace-agent``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
