"""``python -m sdi.cli``: the ``sdi`` command."""

from sdi.cli import run

run()
