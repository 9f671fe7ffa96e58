"""The command line's subcommands (``gwsnb.cli`` dispatches to them) and make's entry points (demo, lab)."""
