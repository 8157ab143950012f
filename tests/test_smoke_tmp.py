import json
from tests.helpers import Shop, invoke, listing, order

def test_tmp(shop: Shop, runner) -> None:
    shop.write_channel("a", listings=[listing("L1", "TEE-M", 10)], orders=[order("1", "paid", [("TEE-M", 2)])])
    shop.write_config({"a": {}})
    r = invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new")
    assert r.exit_code == 0, r.output
    r = invoke(runner, shop, "sync", "--since", "2026-01-01", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert shop.quantities("a") == {"L1": 8}
