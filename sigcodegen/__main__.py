"""`python -m sigcodegen ...`: the same CLI as the `sigcodegen` command."""

import sys

from .cli import main

sys.exit(main())
