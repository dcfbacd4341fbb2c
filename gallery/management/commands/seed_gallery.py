"""Fill a database quickly with one person's images, for trying the gallery at scale.

`manage.py seed_gallery --images 100000 --owner USERNAME [--team NAME]`: a handful of real image
files are drawn and shared by every row; generations and images are spread over galleries,
models and the past year, and inserted in bulk.
"""

import random
import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from gallery.models import Gallery, Generation, Image, Team, personal_team
from jobs import catalog, images
from jobs.sandbox import draw

WORDS = (
    *("fox", "lighthouse", "whale", "teapot", "city", "forest", "river", "robot", "garden"),
    *("castle", "desert", "moon", "bicycle", "portrait", "neon", "watercolor", "sunset"),
    *("storm", "library", "market", "harbor", "mountain"),
)


# The shapes of the few files drawn (width, height): landscape, portrait, square and wide, so a
# seeded gallery shows how the grid lays out pictures of different aspect ratios.
SHAPES = ((1024, 768), (768, 1024), (1024, 1024), (1344, 768))


class Command(BaseCommand):
    help = "Create many images for one user, sharing a few files."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--images", type=int, default=1000)
        parser.add_argument("--owner", required=True)
        parser.add_argument(
            "--team", default="", help="a team of the owner's, by name (default: their own space)"
        )
        parser.add_argument("--galleries", type=int, default=5)
        parser.add_argument("--batch", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **options) -> None:
        owner = get_user_model().objects.filter(username=options["owner"]).first()
        if owner is None:
            raise CommandError(f"There is no user called {options['owner']!r}.")
        rng = random.Random(options["seed"])
        team = self._team(owner, options["team"])
        galleries = list(team.galleries.all())
        while len(galleries) < options["galleries"]:
            galleries.append(Gallery.objects.create(team=team, name=f"Seeded {len(galleries)}"))
        files = [self._files(i) for i in range(len(SHAPES))]
        models = [m.id for m in catalog.offered()][:20]
        now, total, batch = timezone.now(), options["images"], options["batch"]
        for start in range(0, total, batch):
            count = min(batch, total - start)
            with transaction.atomic():
                self._batch(owner, team, galleries, files, models, rng, now, start, count)
            self.stdout.write(f"{start + count} / {total}")
        self.stdout.write(self.style.SUCCESS(f"Seeded {total} images for {owner}."))

    def _team(self, owner, name: str) -> Team:
        if not name:
            return personal_team(owner)
        team = Team.objects.filter(name=name, memberships__user=owner).first()
        if team is None:
            raise CommandError(f"{owner} is not in a team called {name!r}.")
        return team

    def _files(self, n: int) -> dict:
        width, height = SHAPES[n]
        data = draw.render(f"seed picture {n}", n, width, height, "png")
        decoded = images.process(data)
        names = {
            "original": f"seed/{n}-{width}x{height}.png",
            "thumbnail": f"seed/{n}-{width}x{height}.webp",
            "thumbnail_small": f"seed/{n}-{width}x{height}-256.webp",
        }
        for field, content in (
            ("original", data),
            ("thumbnail", decoded.thumbnails[768].data),
            ("thumbnail_small", decoded.thumbnails[256].data),
        ):
            if not default_storage.exists(names[field]):
                default_storage.save(names[field], ContentFile(content))
        large = decoded.thumbnails[768]
        return {
            **names,
            **{"width": width, "height": height},
            **{"sha256": decoded.sha256, "size": len(data), "thumb": large},
        }

    def _batch(self, owner, team, galleries, files, models, rng, now, start, count) -> None:
        generations = []
        for i in range(count):
            created = now - timedelta(seconds=rng.randrange(365 * 24 * 3600))
            prompt = " ".join(rng.sample(WORDS, 4)) + f" #{start + i}"
            generations.append(
                Generation(
                    uuid=uuid.uuid4(),
                    owner=owner,
                    team=team,
                    gallery=rng.choice(galleries),
                    model_id=rng.choice(models),
                    provider="aimlapi",
                    prompt=prompt,
                    params={"seed": i},
                    status=Generation.Status.SUCCEEDED,
                    created_at=created,
                    finished_at=created,
                    touched_at=created,
                    deadline_at=created,
                )
            )
        Generation.objects.bulk_create(generations)
        # bulk_create sets primary keys on PostgreSQL and SQLite 3.35+.
        rows = []
        for generation in generations:
            f = rng.choice(files)
            rows.append(
                Image(
                    uuid=uuid.uuid4(),
                    generation=generation,
                    gallery=generation.gallery,
                    team=team,
                    index=0,
                    original=f["original"],
                    thumbnail=f["thumbnail"],
                    thumbnail_small=f["thumbnail_small"],
                    width=f["width"],
                    height=f["height"],
                    thumb_width=f["thumb"].width,
                    thumb_height=f["thumb"].height,
                    content_type="image/png",
                    byte_size=f["size"],
                    sha256=f["sha256"],
                    created_at=generation.created_at,
                )
            )
        Image.objects.bulk_create(rows)
