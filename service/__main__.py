"""`python -m service` runs the newswatch command line."""

from service.cli import main

raise SystemExit(main())
