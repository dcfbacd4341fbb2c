"""Making, seeing and revoking share links: for a team's owners and editors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.access import Request, get_gallery, get_image
from gallery.accounts import throttle
from gallery.models import Activity, Gallery, Image, ShareLink
from gallery.sharing.access import get_link
from gallery.sharing.forms import LASTS, ShareForm
from gallery.teams.activity import record


def _subject(request: Request) -> Gallery | Image:
    """What is to be shared (?gallery= or ?image=), if the person may change it."""
    if gallery := request.GET.get("gallery"):
        return get_gallery(request, gallery, edit=True)
    if image := request.GET.get("image"):
        return get_image(request, image, edit=True)
    raise Http404


@login_required
@require_http_methods(["GET", "POST"])
def create_link(request: Request) -> HttpResponse:
    subject = _subject(request)
    form = ShareForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if refused := throttle.refusal(request.user, "share"):
            form.add_error(None, f"No link made: {refused}")
            status = 429
        else:
            link = _make(request, subject, form)
            messages.success(request, "Share link made. Copy it from this page.")
            return redirect("sharing:link", link.uuid)
    context = {"subject": subject, "form": form, "is_gallery": isinstance(subject, Gallery)}
    status = 400 if form.errors and status == 200 else status
    return TemplateResponse(request, "sharing/create.html", context, status=status)


def _make(request: Request, subject: Gallery | Image, form: ShareForm) -> ShareLink:
    data = form.cleaned_data
    gallery = subject if isinstance(subject, Gallery) else None
    image = subject if isinstance(subject, Image) else None
    with transaction.atomic():
        link = ShareLink.objects.create(
            team=subject.team,
            gallery=gallery,
            image=image,
            created_by=request.user,
            expires_at=ShareLink.expiry(data["expiry"]),
            allow_download=data["allow_download"],
            show_prompts=data["show_prompts"],
            allow_indexing=data["allow_indexing"],
        )
        summary = f"{link.subject}, {LASTS[data['expiry']]}"
        record(link.team, request.user, Activity.Verb.SHARED, summary, image=image)
    return link


@login_required
@require_GET
def link_detail(request: Request, link_uuid) -> TemplateResponse:
    """The link's address to copy, its settings and how often it was opened."""
    link = get_link(request, link_uuid, edit=True)
    address = request.build_absolute_uri(link.get_absolute_url())
    return TemplateResponse(request, "sharing/link.html", {"link": link, "address": address})


@login_required
@require_POST
def revoke_link(request: Request, link_uuid) -> HttpResponse:
    """Stop the link at once: its page and every file URL it gave out answer 404."""
    link = get_link(request, link_uuid, edit=True)
    if link.revoke(request.user):
        record(link.team, request.user, Activity.Verb.UNSHARED, link.subject)
        messages.success(request, "The share link no longer works.")
    else:
        messages.info(request, "That share link had already been revoked.")
    return redirect("gallery:team-detail", link.team.uuid)
