import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
# Under ASGI every request runs its sync code in a thread of its own, so a kept connection
# would stay with a thread that is gone: one more open PostgreSQL connection per request until
# the server refuses them (Django's docs: no persistent connections under ASGI). Opening one per
# request costs a PostgreSQL backend each time; a pool per process lends them instead
# (webapp/settings.py; SQLite keeps no pool and needs none).
os.environ.setdefault("DB_POOL_SIZE", "10")
os.environ.setdefault("DB_CONN_MAX_AGE", "0")
application = get_asgi_application()
