import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d8site.settings")
django_application = get_wsgi_application()

# After get_wsgi_application(): Django is set up.
from d8site.fast_path import ChatFirst  # noqa: E402
from d8site.probes import Probes  # noqa: E402

# POST /v1/chat/completions (the hot path) past the middleware that do nothing for it; the
# balancers' /livez and /readyz past Django altogether.
application = Probes(ChatFirst(django_application))

# The stream relay's thread (d8site/relay.py) keeps a database connection of its own from the
# worker's start, and mends it after each stream; a request's thread gives its own back before
# it sleeps while the relay carries its stream: gunicorn_worker.CapacityWorker reads these.
from llmfallback.db_pool import db_hold, db_mend, db_release  # noqa: E402

application.relay_hooks = {"on_start": db_hold, "after_stream": db_mend, "before_wait": db_release}
