import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
# Under ASGI every request runs its sync code in a thread of its own, so a kept connection
# would stay with a thread that is gone: one more open PostgreSQL connection per request until
# the server refuses them (Django's docs: disable persistent connections under ASGI). Each
# request opens and closes its own; a pooler (PgBouncer) in front of a busy database is next.
os.environ.setdefault("DB_CONN_MAX_AGE", "0")
application = get_asgi_application()
