"""`python -m bot` is the `ccbot` command."""

import sys

from bot.cli import main

sys.exit(main())
