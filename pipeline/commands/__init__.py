"""Subcommands of `displacement`: each module here has `register(subparsers)` and is found automatically."""
