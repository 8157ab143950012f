from pathlib import Path
from tests.channels.test_cli_channels import omnisync, write_config, shops  # noqa
from tests.fakes.server import dead_url

def test_peek(tmp_path: Path, shops) -> None:
    shopify, woo, su, wu = shops
    write_config(tmp_path, su, wu, dead_url())
    for sku in ("TEE-M", "MUG"):
        omnisync(tmp_path, "stock", "set", sku, "10", "--new")
    r = omnisync(tmp_path, "-v", "sync", "--json", "--since", "1d")
    print(r.stdout); print(r.stderr)
    r = omnisync(tmp_path, "check")
    print(r.stdout); print(r.stderr)
    r = omnisync(tmp_path, "sync")
    print(r.stdout); print(r.stderr)
    assert 0
