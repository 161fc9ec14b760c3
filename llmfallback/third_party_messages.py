"""Spanish for the admin labels of two apps we install that ship no Spanish catalogue
(django-q2, django-axes): listed here so makemessages keeps them in ours, and Django, which
merges every installed catalogue, shows them in Spanish. Nothing imports this module."""

from django.utils.translation import gettext_noop

MESSAGES = [
    # django-q2 (django_q/models.py, apps.py)
    gettext_noop("Django Q"),
    gettext_noop("Failed tasks"),
    gettext_noop("Queued tasks"),
    gettext_noop("Scheduled tasks"),
    gettext_noop("Successful tasks"),
    # django-axes (axes/models.py, apps.py)
    gettext_noop("Axes"),
    gettext_noop("access attempts"),
    gettext_noop("access failures"),
    gettext_noop("access logs"),
]
