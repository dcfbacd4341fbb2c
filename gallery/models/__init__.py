"""Every model of the app, so that `from gallery.models import Image` works wherever it lives.

The models live with their area: gallery/teams/models.py, gallery/images/models.py,
gallery/usage/models.py (prices.py, rollups.py), gallery/accounts/models.py,
gallery/api/models.py, gallery/policy/models.py and gallery/library/models.py.
"""

from gallery.accounts.models import GroupMapping, Preferences, SsoIdentity
from gallery.api.models import ApiToken
from gallery.images.models import (
    Favorite,
    Gallery,
    Generation,
    Image,
    InputImage,
    card_images,
)
from gallery.library.models import Preset, Style
from gallery.policy.models import (
    ClosedModel,
    ModelRefused,
    RoleModels,
    TeamModelList,
    model_refusal,
)
from gallery.sharing.models import ShareLink
from gallery.teams.models import (
    Activity,
    Comment,
    Invitation,
    Membership,
    Notification,
    Team,
    UnreadableKey,
    one_line,
    personal_team,
)
from gallery.usage.limits import OverBudget
from gallery.usage.models import (
    NEW_USER_HELP,
    Budget,
    Price,
    SiteSettings,
    Usage,
    by_param_problem,
)
from gallery.usage.rollups import UsageDay, UsageRollup
from gallery.webhooks.models import Attempt, Delivery, Endpoint, Event

__all__ = [
    "NEW_USER_HELP",
    "Activity",
    "ApiToken",
    "Attempt",
    "Budget",
    "ClosedModel",
    "Comment",
    "Delivery",
    "Endpoint",
    "Event",
    "Favorite",
    "Gallery",
    "Generation",
    "GroupMapping",
    "Image",
    "InputImage",
    "Invitation",
    "Membership",
    "ModelRefused",
    "Notification",
    "OverBudget",
    "Preferences",
    "Preset",
    "Price",
    "RoleModels",
    "ShareLink",
    "SiteSettings",
    "SsoIdentity",
    "Style",
    "Team",
    "TeamModelList",
    "UnreadableKey",
    "Usage",
    "UsageDay",
    "UsageRollup",
    "by_param_problem",
    "card_images",
    "model_refusal",
    "one_line",
    "personal_team",
]
