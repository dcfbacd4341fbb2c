"""The admin site: every model, with read-only audit fields, image hiding and the action log.

What people did (who, when, uuids, hashes, the usage ledger) is shown but never edited by hand.
Every change an admin makes here, hiding and showing images included, lands in Django's
LogEntry, which has its own read-only page.
"""

# Each area registers its own models; importing them here is what puts them on the site.
from gallery.accounts import admin as accounts_admin  # noqa: F401
from gallery.accounts import sso_admin  # noqa: F401
from gallery.api import admin as api_admin  # noqa: F401
from gallery.images import admin as images_admin  # noqa: F401
from gallery.library import admin as library_admin  # noqa: F401
from gallery.policy import admin as policy_admin  # noqa: F401
from gallery.sharing import admin as sharing_admin  # noqa: F401
from gallery.teams import admin as teams_admin  # noqa: F401
from gallery.usage import admin as usage_admin  # noqa: F401
from gallery.webhooks import admin as webhooks_admin  # noqa: F401
