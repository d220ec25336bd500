"""Headless command-line commands. Each module defines HELP, add_arguments(parser) and
main(args) -> int, and is listed in desktop/cli.py's COMMANDS. None imports Qt."""
