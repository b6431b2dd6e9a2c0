"""The cost of masking credentials in text, against reading the same text once.

For each shape of text (no URL at all, many ``://`` without ``@``, many ``a:``, a long
userinfo without ``@``, many URLs with credentials), at 4 MB:

- ``<shape>_over_find``: :func:`~kargo_dagster.redaction.redact_text` divided by a plain
  ``str.find`` of ``"://@"``, which none of the texts holds: one pass over every character
  looking for the separator;
- ``<shape>_growth``: the time at 4 MB divided by the time at 1 MB: about 4 when the time is
  linear in the length, 16 when it is quadratic;
- ``mask_secrets_over_find`` and ``mask_secrets_growth``: the same for
  :func:`~kargo_dagster.redaction.mask_secrets` with a password and its Basic header value,
  over the text with URLs in it.

Run with the project's virtual environment: ``.venv/bin/python bench/redaction.py``. The last
line printed is one JSON object.
"""

import json
import statistics
import time
from collections.abc import Callable

from kargo_dagster.redaction import basic_auth_secrets, mask_secrets, redact_text

SMALL = 1_000_000
LARGE = 4_000_000
ROUNDS = 11


def shapes(size: int) -> dict[str, str]:
    """Texts of about ``size`` characters, by name."""
    return {
        "letters": "a" * size,
        "separators": "a://" * (size // 4),
        "scheme_runs": "a:" * (size // 2),
        "long_userinfo": "https://" + "x" * size,
        "credentials": "see https://bot:s3cret@git.example.com/app.git " * (size // 48),
    }


def median_seconds(action: Callable[[], object]) -> float:
    """The median wall time of ``action`` over :data:`ROUNDS` runs."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def find_seconds(text: str) -> float:
    """One ``str.find`` over all of ``text`` for a separator it does not hold."""
    assert "://@" not in text
    return median_seconds(lambda: text.find("://@"))


def main() -> None:
    small, large = shapes(SMALL), shapes(LARGE)
    secrets = ["s3cret", *basic_auth_secrets("bot", "s3cret")]
    report: dict[str, float] = {}
    for name, text in large.items():
        seconds = median_seconds(lambda text=text: redact_text(text))
        report[f"{name}_over_find"] = round(seconds / find_seconds(text), 1)
        before = median_seconds(lambda text=small[name]: redact_text(text))
        report[f"{name}_growth"] = round(seconds / before, 2)
    text = large["credentials"]
    seconds = median_seconds(lambda: mask_secrets(text, secrets))
    report["mask_secrets_over_find"] = round(seconds / find_seconds(text), 1)
    before = median_seconds(lambda: mask_secrets(small["credentials"], secrets))
    report["mask_secrets_growth"] = round(seconds / before, 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
