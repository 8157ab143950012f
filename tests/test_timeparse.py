"""Times as users type them (`--since`, `overlap`) and as the ledger stores them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnisync.ledger import Ledger
from omnisync.timeparse import as_utc, from_iso, parse_duration, parse_when, to_iso
from tests.helpers import Shop, invoke

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("90s", timedelta(seconds=90)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(weeks=1)),
        (" 5 m ", timedelta(minutes=5)),
        ("0m", timedelta(0)),
    ],
)
def test_parse_duration(text: str, duration: timedelta) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["10", "10 minutes", "-5m", "1.5h", "", "m", "2y", "10M"])
def test_a_duration_that_is_not_one_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected a duration like 30s, 10m, 2h or 7d"):
        parse_duration(text)


def test_an_absurdly_long_duration_is_a_value_error_not_a_crash() -> None:
    with pytest.raises(ValueError, match="longer than a duration can be"):
        parse_duration("9999999999d")
    with pytest.raises(ValueError, match="before the year 1"):
        parse_when("1000000d", now=NOW)
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_when("9999999999d", now=NOW)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2h", datetime(2026, 11, 20, 7, 30, tzinfo=UTC)),
        ("7d", datetime(2026, 11, 13, 9, 30, tzinfo=UTC)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T09:00:00Z", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("2026-11-20T09:00", datetime(2026, 11, 20, 9, tzinfo=UTC)),  # no offset: UTC
        ("2026-11-20T16:00:00+07:00", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("2026-11-20 04:00:00-05:00", datetime(2026, 11, 20, 9, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, moment: datetime) -> None:
    parsed = parse_when(text, now=NOW)
    assert parsed == moment
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "20/11/2026", ""])
def test_a_time_that_is_not_one_says_both_forms(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_when(text, now=NOW)
    assert "ISO 8601" in str(caught.value) and "2h, 7d" in str(caught.value)


def test_as_utc_converts_or_assumes_utc() -> None:
    jakarta = timezone(timedelta(hours=7))
    assert as_utc(datetime(2026, 11, 20, 16, tzinfo=jakarta)) == datetime(
        2026, 11, 20, 9, tzinfo=UTC
    )
    assert as_utc(datetime(2026, 11, 20, 9)).tzinfo is UTC


def test_the_stored_form_is_utc_with_microseconds_and_z() -> None:
    jakarta = timezone(timedelta(hours=7))
    assert to_iso(datetime(2026, 11, 20, 16, tzinfo=jakarta)) == "2026-11-20T09:00:00.000000Z"


moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5))]),
)


@settings(max_examples=200)
@given(moments, moments)
def test_stored_text_sorts_like_the_times_it_holds(a: datetime, b: datetime) -> None:
    """The ledger compares and orders times as text (`updated_at >= ?`)."""
    assert from_iso(to_iso(a)) == a
    assert (to_iso(a) < to_iso(b)) == (a < b)
    assert (to_iso(a) == to_iso(b)) == (a == b)


def test_a_bad_since_on_the_command_line_exits_2(shop: Shop) -> None:
    shop.write_config({})
    Ledger.open(shop.ledger, write=True).close()
    for command in ("orders", "log"):
        result = invoke(CliRunner(), shop, command, "--since", "yesterday")
        assert result.exit_code == 2
        assert result.stderr.startswith("Error: --since: expected an ISO 8601 time")
    result = invoke(CliRunner(), shop, "log", "--since", "1000000d")
    assert result.exit_code == 2
    assert result.stderr == "Error: --since: '1000000d' reaches back before the year 1\n"
