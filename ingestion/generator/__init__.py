"""Sample data generator: synthetic nightly extracts of six source systems and the
ground truth of which person is behind each record.

``generate(customers, seed, out)`` writes ``out/landing/<source>/<file>`` in each
system's export layout and ``out/ground_truth/ground_truth.csv``. The same arguments
give byte-identical files.

How it works: ``people`` draws the true persons (names, e-mails, phones, addresses,
moves, households) from value pools that a seeded Faker fills once per country.
``presence`` decides who appears in which source. One module per source (``crm``,
``shop``, ``web``, ``email_activity``, ``helpdesk``, ``social``) draws every random
choice as numpy arrays up front, then renders and writes rows in chunks.

Adding a noise type:

1. Write a function ``(value: str, draw: float) -> str`` in ``noise.py`` that uses
   the uniform ``draw`` for any choice it makes (position, variant) and returns the
   value unchanged where it does not apply. Register it in ``noise.NOISE``.
2. Give it a rate in a field recipe of ``settings.NoiseRates`` (``name``,
   ``email``, ``street`` or ``city``). ``source_scale`` scales rates per source.
   To make another field noisy, add a recipe there and a ``NoisePlan`` to
   ``fields.RecordNoise``, and apply the plan where the source renders the field.
3. For noise across fields of a record (swapped names, a field left empty), draw a
   mask in the source module's plan and apply it in its render function, as
   ``crm._missing`` does. Draw in the plan, never while rendering, so that output
   stays independent of the chunk size and the number of processes.
4. Run ``pytest tests/ingestion/test_generator.py``. Its chunking test fails when
   the output depends on how rows are split into chunks and processes.

Rates that change who appears where (households, duplicates, guest checkouts,
anonymous visitors) live in ``settings.PresenceRates`` and ``settings.PersonRates``.
"""

from ingestion.generator.generation import GenerationSummary, generate
from ingestion.generator.settings import DEFAULT_SETTINGS, GeneratorSettings

__all__ = ["DEFAULT_SETTINGS", "GenerationSummary", "GeneratorSettings", "generate"]
