"""Comments on an image, with @mentions, and the notifications they send."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.access import Request, get_image
from gallery.accounts import throttle
from gallery.models import Image
from gallery.teams.activity import add_comment


def _comments(image: Image) -> dict:
    """What the image page's comment partials show."""
    return {"image": image, "comments": image.comments.select_related("author")}


@login_required
@require_POST
def comment_image(request: Request, image_uuid) -> HttpResponse:
    image = get_image(request, image_uuid, edit=True)
    body = request.POST.get("body", "").strip()
    if not body or len(body) > 2000:
        messages.error(request, "A comment needs some text (at most 2000 characters).")
    elif refused := throttle.refusal(request.user, "comment"):
        messages.error(request, f"Not posted: {refused}")
    else:
        add_comment(image, request.user, body)
    if request.htmx:
        return TemplateResponse(
            request, "gallery/image_detail.html#comment-posted", _comments(image)
        )
    return redirect(image)


@login_required
@require_GET
def image_comments(request: Request, image_uuid) -> TemplateResponse:
    image = get_image(request, image_uuid)
    return TemplateResponse(request, "gallery/image_detail.html#comment-list", _comments(image))


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: Request) -> HttpResponse:
    mine = request.user.notifications.select_related("actor", "comment__image")
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("gallery:notifications")
    return TemplateResponse(request, "gallery/notifications.html", {"notifications": mine[:100]})
