"""Starting a generation: the one place that creates one, opens its ledger row and enqueues it.

Pages call this; the worker takes over from the `submit` task once the transaction commits (a
task sent earlier could find no row, or a row that is then rolled back).
"""

from functools import partial

from django.db import transaction

from gallery.models import Generation, Usage
from jobs import tasks


def start_generation(**fields) -> Generation:
    """Make a generation, record it in the ledger and submit it once the transaction commits.

    Raises OverBudget when it would break a limit; nothing is then saved.
    """
    with transaction.atomic():
        generation = Generation.objects.create(**fields)
        Usage.open(generation)
        transaction.on_commit(partial(tasks.submit.delay, generation.pk))
    return generation
