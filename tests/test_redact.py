"""Secrets never print, and the ones that slip into text are scrubbed before anyone sees it."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

from omnisync.channels.base import ChannelSettings, SecretStr
from omnisync.redact import REDACTOR, RedactingFilter, Secret


def fresh(prefix: str = "tok") -> str:
    """A value no other test has registered with the process-wide REDACTOR."""
    return f"{prefix}_{uuid.uuid4().hex}"


def test_a_secret_never_prints_its_value() -> None:
    value = fresh()
    secret = Secret(value)
    shown = [
        str(secret),
        repr(secret),
        f"{secret}",
        f"{secret!r}",
        "%s" % secret,  # noqa: UP031 - the old formatting must not leak either
        "{}".format(secret),  # noqa: UP032
        repr([secret, {"token": secret}]),
        json.dumps({"token": secret}, default=str),
    ]
    assert all(value not in text for text in shown), shown
    assert str(secret) == "***"
    assert secret.reveal() == value


def test_secrets_compare_by_value_and_an_empty_one_is_false() -> None:
    value = fresh()
    assert Secret(value) == Secret(value)
    assert hash(Secret(value)) == hash(Secret(value))
    assert Secret(value) != Secret(fresh())
    assert Secret(value) != value
    assert not Secret("")
    assert Secret(value)


class Settings(ChannelSettings):
    store: str
    token: SecretStr


def test_a_settings_model_never_shows_its_secret() -> None:
    value = fresh()
    settings = Settings.model_validate({"store": "example", "token": value})
    assert isinstance(settings.token, Secret) and settings.token.reveal() == value
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert value not in text
    assert settings.model_dump()["token"] == "***"


def test_the_redactor_scrubs_every_secret_made() -> None:
    value = fresh()
    Secret(value)
    text = f"GET https://api.example.com/orders?access_token={value}&page=2 failed"
    assert REDACTOR.scrub(text) == (
        "GET https://api.example.com/orders?access_token=***&page=2 failed"
    )


def test_a_secret_containing_another_is_hidden_whole() -> None:
    short = fresh("abc")
    long = short + "_and_more"
    Secret(short)
    Secret(long)
    assert REDACTOR.scrub(f"[{long}] [{short}]") == "[***] [***]"


def test_very_short_values_are_not_scrubbed_from_ordinary_words() -> None:
    Secret("sg")
    Secret("abc")
    assert REDACTOR.scrub("region sg, abc order") == "region sg, abc order"


def test_scrub_any_reaches_into_nested_json() -> None:
    value = fresh()
    Secret(value)
    report: dict[str, Any] = {
        "run_id": 7,
        "dry_run": False,
        "channels": {
            "shop": {
                "status": "failed",
                "errors": [f"401 for token {value}", "ok"],
                "pairs": ("plain", f"x{value}x"),
            }
        },
        "nothing": None,
    }
    scrubbed = REDACTOR.scrub_any(report)
    assert value not in json.dumps(scrubbed)
    assert scrubbed["run_id"] == 7 and scrubbed["nothing"] is None
    assert scrubbed["channels"]["shop"]["errors"] == ["401 for token ***", "ok"]
    assert scrubbed["channels"]["shop"]["pairs"] == ["plain", "x***x"]
    # The original is left as it was.
    assert value in report["channels"]["shop"]["errors"][0]


def test_log_records_are_scrubbed_with_their_arguments() -> None:
    value = fresh()
    Secret(value)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"omnisync.test.{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("refresh failed: %s (url %s)", f"bad token {value}", "https://x")
        logger.warning(f"inline {value}")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "refresh failed: bad token *** (url https://x)\ninline ***\n"
