"""The pages' access helpers (gallery/access.py), narrowed to the token's one team.

What the person may see elsewhere is, through this token, as missing as what they may not see
at all (404); what they see but their role or a read-only token may not change is 403.
"""

from typing import Any

from django.http import Http404, HttpRequest

from gallery import access
from gallery.api.auth import Caller
from gallery.models import Gallery, Generation, Image


def caller(request: HttpRequest) -> Caller:
    return request.auth  # type: ignore[attr-defined]


def _in_team(request: HttpRequest, team_id: int, edit: bool) -> None:
    who = caller(request)
    if team_id != who.team.pk:
        raise Http404
    if edit:
        who.require_write()


def get_generation(request: HttpRequest, generation_uuid: Any, *, edit: bool = False) -> Generation:
    generation = access.get_generation(request, generation_uuid)
    _in_team(request, generation.team_id, edit)
    return generation


def get_image(request: HttpRequest, image_uuid: Any, *, edit: bool = False) -> Image:
    image = access.get_image(request, image_uuid)
    _in_team(request, image.team_id, edit)
    return image


def get_gallery(request: HttpRequest, gallery_uuid: Any, *, edit: bool = False) -> Gallery:
    gallery = access.get_gallery(request, gallery_uuid)
    _in_team(request, gallery.team_id, edit)
    return gallery
