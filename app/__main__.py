"""`python -m app` starts the desktop app (not when a backup's helper process imports it)."""

from app.main import main

if __name__ == "__main__":
    raise SystemExit(main())
