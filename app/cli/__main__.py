"""`python -m app.cli`: the command line, as `pneumoscan-cli`."""

from app.cli.entry import main

raise SystemExit(main())
