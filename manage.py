#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d8site.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        _ = settings.SECRET_KEY  # loads the settings: a refusal is its message, not a traceback
    except ImproperlyConfigured as e:
        sys.exit(f"Error: {e}")
    execute_from_command_line(sys.argv)
