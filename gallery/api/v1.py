"""The REST API, /api/v1/: django-ninja routes, every one behind an API token.

OpenAPI at /api/v1/openapi.json and Swagger UI at /api/v1/docs, served from ninja's own static
files (no CDN, no inline script), so the docs page runs under the site's strict CSP unchanged.
The docs and the document are public: they describe the API and hold nothing of anyone's.

Webhooks (GET/POST/DELETE /webhooks) are owners' only: their routes open with `caller(request)`
and `require_owner()` (and `require_change()`: not with a read-only token).
"""

from ninja import NinjaAPI

from gallery.api import errors, generations, images, webhooks
from gallery.api.auth import BearerToken

api = NinjaAPI(
    title="Atelier API",
    version="1",
    description=(
        "Make images with any model your team may use, and read your team's gallery. "
        "Send an API token (Settings → API tokens) as `Authorization: Bearer atl_…`."
    ),
    auth=BearerToken(),
    urls_namespace="api",
)
errors.install(api)
api.add_router("/", generations.router)
api.add_router("/", images.router)
api.add_router("/", webhooks.router)
