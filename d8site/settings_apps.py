"""The installed apps and the middleware: settings that read no environment variable (the
ones that do are read in settings.py)."""

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",  # staff logins against password guessing (d8site/logins.py)
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI as local static files: no CDN
    "django_q",
    "llmfallback",
    "llmfallback.dashboard",  # its template tags and static files
    "congress",
]

# Locale, authentication and messages are Django's own, passed by for the agents-only /v1
# (d8site/middleware.py): agents there authenticate with a key and nothing else.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "d8site.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "d8site.middleware.AuthenticationMiddleware",
    "d8site.middleware.MessageMiddleware",
    "d8site.middleware.MethodNotAllowedPage",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a login it locked out (d8site/logins.py).
    "axes.middleware.AxesMiddleware",
]
