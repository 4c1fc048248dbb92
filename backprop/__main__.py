"""`python -m backprop`: the same command line as the `backprop` script."""

from backprop.cli import main

raise SystemExit(main())
