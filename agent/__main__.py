"""``python -m agent``: the same as ``leaktrace-agent``."""

import sys

from .cli import main

sys.exit(main())
