"""`python -m app` is the `inhouse` command."""

from app.cli import main

main()
