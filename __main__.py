"""``python -m nashlab`` is the ``nashlab`` command."""

import sys

from nashlab.cli import main

sys.exit(main())
