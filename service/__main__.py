"""`python -m service` runs the newswatch command line."""

from service.ops.cli import main

raise SystemExit(main())
