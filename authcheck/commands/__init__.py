"""CLI command groups; every module here with an ``add_parser`` is picked up by :mod:`authcheck.cli`."""
