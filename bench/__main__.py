"""``python -m bench`` from the project root: see bench/cli.py for the options;
``python -m bench --growth``: the growth benchmark (bench/growth.py)."""

import sys

if "--growth" in sys.argv[1:]:
    from bench.growth import main
else:
    from bench.cli import main

raise SystemExit(main())
