"""`python -m dom_engine ...` is the `dom` command."""

import sys

from .cli import main

sys.exit(main())
