"""The library's access helpers, as gallery/access.py has for the rest: 404 for a preset or
style of a team the person is not in, 403 for a viewer changing one."""

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from gallery.access import Request, can_edit
from gallery.library.models import Preset, Style


def get_preset(request: Request, preset_uuid: Any, *, edit: bool = False) -> Preset:
    preset = get_object_or_404(
        Preset.objects.visible_to(request.user).select_related("team"), uuid=_uuid(preset_uuid)
    )
    if edit and not can_edit(request.user, preset.team):
        raise PermissionDenied
    return preset


def get_style(request: Request, style_uuid: Any, *, edit: bool = False) -> Style:
    style = get_object_or_404(
        Style.objects.visible_to(request.user).select_related("team"), uuid=_uuid(style_uuid)
    )
    if edit and not can_edit(request.user, style.team):
        raise PermissionDenied
    return style


def _uuid(value: Any) -> uuid.UUID:
    """A malformed id is as missing as an unknown one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None
