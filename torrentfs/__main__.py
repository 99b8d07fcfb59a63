"""`python -m torrentfs` runs the command line."""

from torrentfs.cli import main

raise SystemExit(main())
