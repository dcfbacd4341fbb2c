"""Access helpers for share links, built on gallery/access.py's.

The team's members manage a link (owners and editors change it, 404 for strangers); anyone
holding a live link's token reads what it shares, and nothing else (404 for everything else).
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from gallery.access import can_edit
from gallery.models import Image, ShareLink


def get_link(request: HttpRequest, link_uuid: Any, *, edit: bool = False) -> ShareLink:
    """A link of one of the person's teams (`link_uuid` from a uuid route); 403 to a viewer
    when `edit`."""
    link = get_object_or_404(
        ShareLink.objects.visible_to(request.user)
        .select_related("team", "gallery", "image__generation", "created_by")
        .distinct(),
        uuid=link_uuid,
    )
    if edit and not can_edit(request.user, link.team):
        raise PermissionDenied
    return link


def get_live_link(token: str) -> ShareLink:
    """The link behind a public address, while it is neither revoked nor expired."""
    link = ShareLink.objects.live().select_related("gallery").filter(token=token).first()
    if link is None:
        raise Http404
    return link


def get_shared_image(link: ShareLink, image_uuid: Any) -> Image:
    """One of the images the link shares (never one it does not, whatever the id)."""
    found = link.images().select_related("generation").filter(uuid=image_uuid).first()
    if found is None:
        raise Http404
    return found
