"""``python -m unleak.cli``: the same as the ``unleak`` command."""

from unleak.cli import main

main()
