"""Starting a generation: the one place that creates one, opens its ledger row and enqueues it.

Pages call this; the worker takes over from the `submit` task once the transaction commits (a
task sent earlier could find no row, or a row that is then rolled back).
"""

from functools import partial

from django.db import transaction

from gallery.models import Generation, ModelRefused, Usage, model_refusal
from jobs import tasks


def start_generation(**fields) -> Generation:
    """Make a generation, record it in the ledger and submit it once the transaction commits.

    Raises OverBudget when it would break a limit (ModelRefused, one of them, when the person
    may not use the model in the team: every way of starting a generation comes through here,
    so this is where that rule holds); nothing is then saved.
    """
    owner, team = fields.get("owner"), fields.get("team")
    if refused := model_refusal(owner, team, fields["model_id"], fields.get("params") or {}):
        raise ModelRefused(refused)
    with transaction.atomic():
        generation = Generation.objects.create(**fields)
        Usage.open(generation)
        transaction.on_commit(partial(tasks.submit.delay, generation.pk))
    return generation
