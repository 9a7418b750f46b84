#!/usr/bin/env python
import os
import sys


def main():
    from portal.env import ConfigError, keep_files_private

    keep_files_private()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as exc:
        # A bad PORTAL_* variable: one line naming it, not a traceback.
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
