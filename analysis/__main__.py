"""`python -m analysis` is the `layerscope` command."""
import sys

from analysis.cli import main

sys.exit(main())
