"""A team's galleries: the list, with a form for a new one, and one gallery's images."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods

from gallery.access import Request, current_team, get_gallery
from gallery.accounts import throttle
from gallery.images import browse
from gallery.images.forms import GalleryForm
from gallery.models import Gallery


@login_required
@require_http_methods(["GET", "POST"])
def gallery_list(request: Request) -> HttpResponse:
    team = current_team(request, edit=request.method == "POST")
    form = GalleryForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid() and (refused := throttle.refusal(request.user, "gallery")):
            form.add_error(None, refused)
            status = 429
        if form.is_valid():
            gallery = Gallery.objects.create(
                team=team, name=form.cleaned_data["name"], created_by=request.user
            )
            return redirect(gallery)
    context = {"team": team, "galleries": team.galleries.all(), "form": form}
    return TemplateResponse(request, "gallery/galleries.html", context, status=status)


@login_required
@require_GET
def gallery_detail(request: Request, gallery_uuid) -> TemplateResponse:
    gallery = get_gallery(request, gallery_uuid)
    images = gallery.images.shown().select_related("generation__owner")
    images = images.order_by("-created_at", "-id")[: browse.GRID_SIZE]
    context = {"gallery": gallery, "images": images}
    return TemplateResponse(request, "gallery/gallery_detail.html", context)
