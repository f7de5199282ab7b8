"""``python -m bot`` is the same as ``warroom``."""

import sys

from bot.cli import main

sys.exit(main())
