"""Prices by quality and size for the gpt-image models, and the ledger's "family" source.

A price is updated only while it still holds what was seeded (0012's figure, or, on a fresh
database where 0012 read today's prices.json, this figure without its options): a price an
admin has changed is left as it is. The figures are written here, not read from prices.json,
so this migration does the same thing whenever it runs.
"""

from decimal import Decimal

from django.db import migrations, models

SIZES = ("1024x1024", "1024x1536", "1536x1024")


def by_quality_and_size(low, medium, high) -> dict:
    rows = {"low": low, "medium": medium, "high": high}
    return {"quality": {q: {"size": dict(zip(SIZES, v, strict=True))} for q, v in rows.items()}}


GPT_IMAGE_1 = by_quality_and_size(
    ("0.011", "0.016", "0.016"), ("0.042", "0.063", "0.063"), ("0.167", "0.25", "0.25")
)
OPENAI_PAGE = (
    "OpenAI's per-image prices by quality and size, developers.openai.com/api/docs/models/"
)
PRICES = {
    "openai/gpt-image-1": {
        "usd_per_image": "0.042000",
        "by_param": GPT_IMAGE_1,
        "source": OPENAI_PAGE + "gpt-image-1 (the AI/ML API's docs give none)",
    },
    "openai/gpt-image-1:edit": {
        "usd_per_image": "0.042000",
        "by_param": GPT_IMAGE_1,
        "source": OPENAI_PAGE + "gpt-image-1 (output only; input images are billed on top)",
    },
    "openai/gpt-image-1-mini": {
        "usd_per_image": "0.011000",
        "by_param": by_quality_and_size(
            ("0.005", "0.006", "0.006"), ("0.011", "0.015", "0.015"), ("0.036", "0.052", "0.052")
        ),
        "source": OPENAI_PAGE
        + "gpt-image-1-mini (the AI/ML API's example, medium 1536x1024, charged 0.0132)",
    },
    "openai/gpt-image-2:edit": {
        "usd_per_image": "0.095225",
        "by_param": {},
        "source": "documented example response: usd_spent 0.095225 for 1 image "
        "(two input images, 1024x1024)",
    },
}
# What 0012 seeded before, for the prices this changes.
SEEDED = {
    "openai/gpt-image-1-mini": (
        "0.013232",
        "documented example response: credits_used 26465 for 1 image",
    ),
}


def untouched(row, model_id: str, new: dict) -> bool:
    seeded = [SEEDED.get(model_id), (new["usd_per_image"], new["source"])]
    figures = {(Decimal(usd), source) for usd, source in filter(None, seeded)}
    plain = not row.by_param and not row.per_megapixel
    return plain and (row.usd_per_image, row.source) in figures


def seed(apps, schema_editor) -> None:
    Price = apps.get_model("gallery", "Price")
    for model_id, new in PRICES.items():
        values = {**new, "usd_per_image": Decimal(new["usd_per_image"])}
        row = Price.objects.filter(model_id=model_id).first()
        if row is None:
            Price.objects.create(model_id=model_id, **values)
        elif untouched(row, model_id, new):
            Price.objects.filter(pk=row.pk).update(**values)


class Migration(migrations.Migration):
    dependencies = [("gallery", "0014_generation_model_index")]
    operations = [
        migrations.AlterField(
            model_name="usage",
            name="cost_source",
            field=models.CharField(
                choices=[
                    ("reported", "Reported by the provider"),
                    ("estimated", "Estimated from the price table"),
                    ("family", "Estimated at the highest price of its family"),
                    ("unpriced", "No price known"),
                    ("free", "Not charged"),
                ],
                max_length=10,
            ),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
