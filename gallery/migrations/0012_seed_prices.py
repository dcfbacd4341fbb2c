"""Seed the price table with the per-image figures of the AI/ML API's documented examples."""

import json
from decimal import Decimal
from pathlib import Path

from django.db import migrations

PRICES = Path(__file__).resolve().parents[2] / "jobs" / "data" / "prices.json"


def seed(apps, schema_editor) -> None:
    Price = apps.get_model("gallery", "Price")
    for model_id, price in json.loads(PRICES.read_text())["prices"].items():
        Price.objects.get_or_create(
            model_id=model_id,
            defaults={"usd_per_image": Decimal(price["usd_per_image"]), "source": price["source"]},
        )


class Migration(migrations.Migration):
    dependencies = [("gallery", "0011_ledger_budgets_hidden")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
