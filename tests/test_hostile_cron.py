"""Issue 12: problems that cron must hear about (stderr and exit 1), and what it must not."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from tests.helpers import Shop, invoke, listing, order

SINCE = "2026-11-01T00:00:00Z"


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def stock_in(runner: CliRunner, shop: Shop, **counts: int) -> None:
    for sku, quantity in counts.items():
        ok(invoke(runner, shop, "stock", "set", sku, str(quantity), "--new"))


# -- unmapped listings ------------------------------------------------------------------------


def test_a_listing_whose_sku_maps_to_nothing_is_on_stderr_and_exit_1_every_run(
    shop: Shop, runner: CliRunner
) -> None:
    # `cap` is not `CAP`: a case slip maps nowhere, and guessing could mix up two products.
    shop.write_channel("a", listings=[listing("A1", "CAP", 0), listing("A2", "cap", 7)])
    shop.write_config({"a": {}})
    stock_in(runner, shop, CAP=5)

    for _ in range(2):
        result = invoke(runner, shop, "-q", "sync")
        assert result.exit_code == 1
        assert "unmapped: a SKU 'cap' maps to no SKU (listings A2)" in result.stderr

    report = json.loads(invoke(runner, shop, "sync", "--json").stdout)
    assert report["unmapped"] == [
        {"channel": "a", "channel_sku": "cap", "orders": [], "listings": ["A2"]}
    ]
    assert report["channels"]["a"]["listings_unmapped"] == 1
    assert shop.quantities("a") == {"A1": 5, "A2": 7}  # never written


def test_a_listing_without_a_sku_is_not_managed_counted_and_never_exit_1(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel("a", listings=[listing("A1", "CAP", 0), listing("A2", "", 3)])
    shop.write_config({"a": {}})
    stock_in(runner, shop, CAP=5)

    result = invoke(runner, shop, "sync", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["unmapped"] == []
    assert report["channels"]["a"]["listings_not_managed"] == 1
    assert report["channels"]["a"]["listings_unmapped"] == 0
    assert shop.quantities("a") == {"A1": 5, "A2": 3}


def test_check_lists_listings_without_a_sku_as_not_managed(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel("a", listings=[listing("A1", "CAP", 0), listing("A2", "", 3)])
    shop.write_config({"a": {}})
    stock_in(runner, shop, CAP=5)

    result = invoke(runner, shop, "check")

    assert result.exit_code == 0, result.output
    assert "no SKU maps to no SKU" not in result.stdout
    assert "maps to no SKU" not in result.stdout
    assert "  not managed (no SKU on the channel): A2" in result.stdout
    report = json.loads(ok(invoke(runner, shop, "check", "--json")).stdout)
    assert report["channels"][0]["unmapped"] == []
    assert report["channels"][0]["not_managed"] == ["A2"]


# -- the max_change brake and selling out -----------------------------------------------------


def test_selling_out_an_sku_and_its_bundle_is_never_blocked_by_the_brake(
    shop: Shop, runner: CliRunner
) -> None:
    # 3 listings; a sale oversells TEE-M, so TEE-M and the gift set holding it go to 0: 2 of 3
    # is more than half, and yet the channel must stop selling units that do not exist.
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 2), listing("A2", "GIFT", 2), listing("A3", "MUG", 10)],
        orders=[order("7", "paid", [("TEE-M", 3)])],
    )
    shop.write_config({"a": {}}, '[bundles]\n"GIFT" = { "TEE-M" = 1, "MUG" = 1 }\n')
    stock_in(runner, shop, **{"TEE-M": 2, "MUG": 10})

    result = invoke(runner, shop, "sync", "--since", SINCE, "--json")

    report = json.loads(result.stdout)
    assert result.exit_code == 1  # oversold needs a person
    assert [item["sku"] for item in report["oversold"]] == ["TEE-M"]
    assert report["channels"]["a"]["errors"] == []
    assert shop.quantities("a") == {"A1": 0, "A2": 0, "A3": 10}


def test_a_one_listing_shop_that_sells_out_is_pushed_0(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel(
        "a", listings=[listing("A1", "TEE-M", 2)], orders=[order("7", "paid", [("TEE-M", 2)])]
    )
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{"TEE-M": 2})

    ok(invoke(runner, shop, "sync", "--since", SINCE))

    assert shop.quantities("a") == {"A1": 0}


def test_a_sell_out_pushed_by_a_later_run_is_not_blocked_either(
    shop: Shop, runner: CliRunner
) -> None:
    # The sale is applied by a run that does not push channel b (or whose push to b failed):
    # b's only listing must still go to 0 on the next run, not wait for --force for ever.
    shop.write_channel(
        "a", listings=[listing("A1", "TEE-M", 2)], orders=[order("7", "paid", [("TEE-M", 2)])]
    )
    shop.write_channel("b", listings=[listing("B1", "TEE-M", 2)])
    shop.write_config({"a": {}, "b": {}})
    stock_in(runner, shop, **{"TEE-M": 2})
    ok(invoke(runner, shop, "sync", "--channel", "a", "--since", SINCE))
    assert shop.quantities("b") == {"B1": 2}

    ok(invoke(runner, shop, "sync", "--channel", "b", "--since", SINCE))

    assert shop.quantities("b") == {"B1": 0}


def test_the_brake_still_stops_a_stock_take_that_zeroes_the_shop(
    shop: Shop, runner: CliRunner
) -> None:
    # A sale of MUG in the same run explains nothing about TEE-M and CAP counted at 0.
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 5), listing("A2", "CAP", 5), listing("A3", "MUG", 5)],
        orders=[order("7", "paid", [("MUG", 1)])],
    )
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{"TEE-M": 3, "CAP": 3, "MUG": 5})
    # Sold once, then counted at 0 by a stock-take: the count, not the sale, explains the 0.
    ledger_sale = order("6", "paid", [("TEE-M", 1), ("CAP", 1)])
    shop.write_channel("a", listings=shop.read_channel("a")["listings"], orders=[ledger_sale])
    ok(invoke(runner, shop, "sync", "--since", SINCE, "--force"))
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 5), listing("A2", "CAP", 5), listing("A3", "MUG", 5)],
        orders=[ledger_sale, order("7", "paid", [("MUG", 1)])],
    )
    stock_in(runner, shop, **{"TEE-M": 0, "CAP": 0})

    result = invoke(runner, shop, "sync", "--since", SINCE, "--json")

    assert result.exit_code == 1
    errors = json.loads(result.stdout)["channels"]["a"]["errors"]
    assert errors and "would set 2 of 3 listings to 0" in errors[0]
    assert shop.quantities("a") == {"A1": 5, "A2": 5, "A3": 5}


# -- -q keeps problems ----------------------------------------------------------------------


def test_quiet_still_warns_of_a_readable_config_holding_a_literal_secret(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 4)])
    shop.write_config(
        {"a": {}},
        '[channels.web]\ntype = "woocommerce"\nurl = "https://shop.example"\n'
        'key = "ck_literal"\nsecret = "cs_literal"\nenabled = false\n',
    )
    shop.config.chmod(0o644)
    stock_in(runner, shop, **{"TEE-M": 4})

    result = invoke(runner, shop, "-q", "sync")

    assert result.exit_code == 0, result.output
    assert "holds a literal secret in a file other users can read" in result.stderr
    assert result.stdout == ""  # -q drops the summary, and only that
