from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget
from django_htmx.middleware import HtmxDetails

from gallery.forms import GenerateForm
from gallery.models import Generation, Image, InputImage
from jobs import catalog, pipeline, tasks

GRID_SIZE = 60


class Request(HttpRequest):
    """What views receive: htmx details from the middleware, and a logged-in user."""

    htmx: HtmxDetails
    user: User


def _generation_for_user(request: Request, generation_uuid) -> Generation:
    return get_object_or_404(Generation.objects.visible_to(request.user), uuid=generation_uuid)


def _image_for_user(request: Request, image_uuid) -> Image:
    images = Image.objects.visible_to(request.user).select_related("generation")
    return get_object_or_404(images, uuid=image_uuid)


def _recent_generations(request: Request):
    generations = Generation.objects.visible_to(request.user).prefetch_related("images")
    return generations[:GRID_SIZE]


@login_required
@require_GET
def index(request: Request) -> TemplateResponse:
    form = GenerateForm(user=request.user, model_id=request.GET.get("model"))
    context = {"form": form, "generations": _recent_generations(request)}
    return TemplateResponse(request, "gallery/index.html", context)


@login_required
@require_GET
def model_fields(request: Request) -> TemplateResponse:
    """The chosen model's own fields, swapped into the form when the Model select changes."""
    form = GenerateForm(user=request.user, model_id=request.GET.get("model"))
    return TemplateResponse(request, "gallery/index.html#model-fields", {"form": form})


@login_required
@require_POST
def generate(request: Request) -> HttpResponse:
    form = GenerateForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        if request.htmx:
            response = TemplateResponse(request, "gallery/index.html#generate-form", {"form": form})
            return reswap(retarget(response, "#generate-form"), "outerHTML")
        context = {"form": form, "generations": _recent_generations(request)}
        return TemplateResponse(request, "gallery/index.html", context, status=400)
    model = form.catalog_model
    with transaction.atomic():
        generation = Generation.objects.create(
            owner=request.user,
            model_id=model.id,
            provider=model.provider,
            prompt=form.cleaned_data["prompt"],
            params=form.params(),
        )
        transaction.on_commit(partial(tasks.submit.delay, generation.pk))
    if request.htmx:
        return TemplateResponse(request, "gallery/_card.html", {"generation": generation})
    return redirect("gallery:index")


@login_required
@require_GET
def generation_card(request: Request, generation_uuid) -> TemplateResponse:
    """One card, polled while its generation is in flight; the terminal card stops polling."""
    generation = _generation_for_user(request, generation_uuid)
    return TemplateResponse(request, "gallery/_card.html", {"generation": generation})


@login_required
@require_POST
def cancel_generation(request: Request, generation_uuid) -> HttpResponse:
    """Stop a generation that is queued or in flight; a late result is thrown away."""
    generation = _generation_for_user(request, generation_uuid)
    if not generation.cancel() and generation.status != Generation.Status.CANCELLED:
        messages.info(request, "That generation had already finished.")
    generation.refresh_from_db()
    if request.htmx:
        return TemplateResponse(request, "gallery/_card.html", {"generation": generation})
    return redirect("gallery:index")


@login_required
@require_POST
def retry_generation(request: Request, generation_uuid) -> HttpResponse:
    """Run a failed or cancelled generation again, as a new attempt."""
    generation = _generation_for_user(request, generation_uuid)
    if generation.status not in (Generation.Status.FAILED, Generation.Status.CANCELLED):
        messages.info(request, "Only a failed or cancelled generation can be retried.")
        return redirect("gallery:index")
    with transaction.atomic():
        retry = generation.make_retry()
        transaction.on_commit(partial(tasks.submit.delay, retry.pk))
    if request.htmx:
        return TemplateResponse(request, "gallery/_card.html", {"generation": retry})
    return redirect("gallery:index")


@login_required
@require_GET
def image_detail(request: Request, image_uuid) -> TemplateResponse:
    image = _image_for_user(request, image_uuid)
    generation = image.generation
    context = {
        "image": image,
        "generation": generation,
        "model": catalog.get(generation.model_id),
        "siblings": generation.images.all(),
    }
    return TemplateResponse(request, "gallery/image_detail.html", context)


@login_required
@require_GET
def image_file(request: Request, image_uuid, kind: str) -> FileResponse:
    """Serve an original or a thumbnail to someone allowed to see the image, and no one else."""
    image = _image_for_user(request, image_uuid)
    if kind == "original":
        stored, content_type = image.original, image.content_type
    elif kind == "thumbnail":
        stored, content_type = image.thumbnail, "image/webp"
    elif kind == "small" and image.thumbnail_small:
        stored, content_type = image.thumbnail_small, "image/webp"
    else:
        raise Http404
    download = kind == "original" and "download" in request.GET
    response = FileResponse(
        stored.open("rb"),
        content_type=content_type,
        as_attachment=download,
        filename=f"atelier-{image.uuid}.{(stored.name or '').rsplit('.', 1)[-1]}",
    )
    # The file behind a uuid never changes; only its owner's browser may keep it.
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@require_GET
def input_link(request: HttpRequest, token: str) -> FileResponse:
    """An input picture for a provider that takes only URLs; the signed token is the access."""
    found = pipeline.read_input_link(token)
    if found is None:
        raise Http404
    kind, uuid = found
    if kind == "upload":
        item = get_object_or_404(InputImage, uuid=uuid)
        stored, content_type = item.file, item.content_type
    else:
        image = get_object_or_404(Image, uuid=uuid)
        stored, content_type = image.original, image.content_type
    return FileResponse(stored.open("rb"), content_type=content_type)
