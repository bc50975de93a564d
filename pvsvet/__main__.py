"""``python -m pvsvet``: the same as the ``pvsvet`` command."""
import sys

from .app import main

sys.exit(main())
