"""The pages anyone holding a share link sees: read-only, and scoped to the link.

Nothing here needs an account or says who made what: no team, no authors, no comments, no
link into the app. Every image and file is looked up through the link's own `images()`.
"""

from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from gallery.access import Request
from gallery.images import browse
from gallery.models import Image, ShareLink
from gallery.sharing import files
from gallery.sharing.access import get_live_link, get_shared_image

PAGE_SIZE = 24


def _private(response: HttpResponseBase, link: ShareLink) -> HttpResponseBase:
    """Never kept by a browser (its file URLs die within a minute), never sending the token on
    in a Referer, and not indexed unless the owner chose it."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    if not link.allow_indexing:
        response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def gone(request: HttpRequest, exception: Exception | None = None) -> TemplateResponse:
    """A page that says why there is nothing here, still answered with 404."""
    context = {"title": "Link not found", "link": None}
    response = TemplateResponse(request, "sharing/gone.html", context, status=404)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _card(request: HttpRequest, link: ShareLink, cover: Image | None) -> dict:
    """What a pasted link unfurls to: Open Graph and Twitter card tags, absolute URLs."""
    if link.image_id and cover and link.show_prompts:
        title = cover.generation.prompt[:120]
    elif link.gallery is not None:
        title = link.gallery.name
    else:
        title = "A shared image"
    image = request.build_absolute_uri(reverse("sharing:card", args=[link.token])) if cover else ""
    url = request.build_absolute_uri(link.get_absolute_url())
    return {"title": title, "card_image": image, "card_url": url, "cover": cover}


@require_GET
def shared_page(request: Request, token: str) -> HttpResponseBase:
    """A shared image, or a shared gallery's grid (the next page for infinite scroll)."""
    try:
        link = get_live_link(token)
    except Http404:
        return gone(request)
    images = link.images().select_related("generation")
    tiles, cursor = browse.page(images, request.GET.get("after"), PAGE_SIZE)
    if link.image_id and not tiles:  # deleted, hidden or moved to another team since
        raise Http404
    files.sign(link, tiles)
    context = {"link": link, "tiles": tiles, "cursor": cursor, "max_tiles": browse.MAX_TILES}
    if request.htmx and "after" in request.GET:
        response = TemplateResponse(request, "sharing/page.html#grid-page", context)
        return _private(response, link)
    link.count_view()
    context |= _card(request, link, tiles[0] if tiles else None)
    return _private(TemplateResponse(request, "sharing/page.html", context), link)


@require_GET
def shared_image(request: Request, token: str, image_uuid) -> HttpResponseBase:
    """One image of a shared gallery: in the lightbox, or as a page without JavaScript."""
    link = get_live_link(token)
    image = get_shared_image(link, image_uuid)
    newer, older = _neighbours(link, image)
    files.sign(link, [image])
    context = {"link": link, "image": image, "newer": newer, "older": older}
    if request.htmx and request.GET.get("lightbox"):
        return _private(TemplateResponse(request, "sharing/_lightbox.html", context), link)
    context |= _card(request, link, image)
    return _private(TemplateResponse(request, "sharing/image.html", context), link)


def _neighbours(link: ShareLink, image: Image) -> tuple[Image | None, Image | None]:
    images = link.images()
    at, me = image.created_at, image.uuid
    newer = images.filter(created_at__gte=at).exclude(created_at=at, uuid__lte=me)
    older = images.filter(created_at__lte=at).exclude(created_at=at, uuid__gte=me)
    return (
        newer.order_by("created_at", "uuid").first(),
        older.order_by("-created_at", "-uuid").first(),
    )


@require_GET
def download(request: HttpRequest, token: str, image_uuid) -> HttpResponseRedirect:
    """Where "Download original" points: a fresh signed URL, so the button works however long
    the page has been open; 404 where the link does not allow downloads."""
    link = get_live_link(token)
    image = get_shared_image(link, image_uuid)
    if not link.allow_download:
        raise Http404
    return HttpResponseRedirect(files.file_url(link, image, "download"))


@require_GET
def card_image(request: HttpRequest, token: str) -> HttpResponseBase:
    """The picture a pasted link unfurls with (og:image): the newest image's thumbnail.

    Unfurlers fetch it when they please, so its address holds no expiring signature; it is
    checked against the link on every request like the page itself.
    """
    link = get_live_link(token)
    cover = link.images().order_by("-created_at", "-uuid").first()
    if cover is None:
        raise Http404
    return _private(files.respond(link, cover, "thumbnail"), link)


@require_GET
def shared_file(request: HttpRequest, signed: str) -> HttpResponseBase:
    """A file of a share page, for as long as its signature is fresh and its link is live."""
    found = files.read_file_url(signed)
    link = found and ShareLink.objects.live().filter(uuid=found[0]).first()
    if not found or link is None:
        raise Http404
    _, image_uuid, kind = found
    image = get_shared_image(link, image_uuid)
    return files.respond(link, image, kind)
