"""`python -m tilting.cli`: the same as the `tilting` command."""

import sys

from tilting.cli.main import main

sys.exit(main())
