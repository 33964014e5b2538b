#!/usr/bin/env python
"""Run the service's management commands."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phpservice.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        # Load the settings first, so that a configuration mistake is told in
        # one line rather than at the end of a traceback.
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018
    except ImproperlyConfigured as err:
        sys.exit(f"Configuration error: {err}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
