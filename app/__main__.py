"""`python -m app` starts the desktop GUI (same as the `pneumoscan` command)."""

from app.ui.main import main

if __name__ == "__main__":
    raise SystemExit(main())
