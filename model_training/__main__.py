"""`python -m model_training train|evaluate ...`"""

from model_training.cli import main

raise SystemExit(main())
