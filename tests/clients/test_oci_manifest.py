"""Build-date parsing: Go's RFC 3339, which needs a time zone."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kargo_dagster.clients.oci.manifest import parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01t10:00:00z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00.5Z", datetime(2024, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2024-03-01T10:00:00.123456789Z", datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        (
            "2024-03-01T10:00:00-05:30",
            datetime(2024, 3, 1, 10, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("2024-03-01T10:00:00", None),
        ("2024-03-01 10:00:00Z", None),
        ("2024-03-01", None),
        ("2024-02-30T10:00:00Z", None),
        ("yesterday", None),
    ],
)
def test_parse_rfc3339(text: str, expected: datetime | None):
    assert parse_rfc3339(text) == expected
