"""Start-up pays only for what a command uses: `--help` no config, a file-only shop no httpx."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.main import get_command_name
from typer.testing import CliRunner

from omnisync.channels import CHANNEL_TYPES
from omnisync.cli import ROOT_VALUE_OPTIONS, app, only_the_command
from omnisync.gcpause import YOUNG_PASS_EVERY
from omnisync.ledger import Ledger
from tests.fakes import woocommerce_api
from tests.fakes.server import serve
from tests.fakes.woocommerce_api import FakeWoo
from tests.helpers import Shop, listing

ADAPTERS = ("csvfile", "lazada", "shopee", "shopify", "tiktok", "woocommerce")

# Runs the CLI in a fresh interpreter and prints, as JSON, which modules it imported.
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["omnisync", *sys.argv[1:]]
from omnisync.cli import main
main()
"""


def imported_by(*args: str, cwd: Path | None = None) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    last = done.stderr.strip().splitlines()[-1]
    return set(json.loads(last))


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("sync", "--help")])
def test_version_and_help_import_no_config_ledger_or_channel(args: tuple[str, ...]) -> None:
    modules = imported_by(*args)
    assert "omnisync.cli.syncing" in modules  # the commands are registered, so listed
    for heavy in ("httpx", "omnisync.config", "omnisync.ledger", "omnisync.channels"):
        assert heavy not in modules, heavy


def test_a_sync_of_fake_channels_imports_no_http_adapter(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    shop.write_channel("web", listings=[listing("L1", "MUG", 5)])
    shop.write_config({"web": {}})
    modules = imported_by("--config", str(shop.config), "sync", cwd=tmp_path)
    assert "omnisync.channels.fake" in modules  # the run did reach its channel
    assert "httpx" not in modules
    for adapter in ADAPTERS:
        assert f"omnisync.channels.{adapter}" not in modules, adapter


def test_channel_types_are_known_before_their_modules_load() -> None:
    assert sorted(CHANNEL_TYPES) == [
        "csv",
        "fake",
        "lazada",
        "shopee",
        "shopify",
        "tiktok",
        "woocommerce",
    ]
    assert "nosuch" not in CHANNEL_TYPES
    with pytest.raises(KeyError):
        CHANNEL_TYPES["nosuch"]
    assert CHANNEL_TYPES["csv"].http is False
    assert CHANNEL_TYPES["shopify"].settings.__name__ == "ShopifySettings"


@pytest.mark.parametrize("args", [("--version",), ("--help",)])
def test_version_and_help_load_no_pydantic_and_no_renderer(args: tuple[str, ...]) -> None:
    modules = imported_by(*args)
    # pydantic is typer's to load when it converts an option's value (`sync --help` converts
    # the global ones, all unset); these two stop before any.
    for heavy in ("pydantic", "omnisync.render"):
        assert heavy not in modules, heavy


def test_version_loads_no_rich() -> None:
    # typer prints --version with click's echo: rich is for tables, help pages and errors.
    assert not {name for name in imported_by("--version") if name.split(".")[0] == "rich"}


def test_a_sync_loads_nothing_only_other_commands_use(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    shop.write_channel("web", listings=[listing("L1", "MUG", 5)])
    shop.write_config({"web": {}})
    modules = imported_by("--config", str(shop.config), "sync", cwd=tmp_path)
    assert "omnisync.sync.run" in modules  # the run happened
    for unused in (
        "omnisync.ledger.analytics",  # `report`'s queries
        "omnisync.analytics",  # `report`'s figures
        "omnisync.stock",  # `stock set|add|move|import|export`
        "omnisync.checks",  # `check`
        "omnisync.demo",  # `demo`
        "rich._emoji_codes",  # text is printed as it is
    ):
        assert unused not in modules, unused


def commands_of(typer_app: typer.Typer) -> list[str]:
    """The names of the commands and command groups a typer app would build."""
    commands = [
        info.name or get_command_name(getattr(info.callback, "__name__", ""))
        for info in typer_app.registered_commands
    ]
    return sorted([*commands, *(str(info.name) for info in typer_app.registered_groups)])


@pytest.mark.parametrize(
    ("args", "kept"),
    [
        (["sync"], ["sync"]),
        (["--config", "stock", "-v", "sync", "--json"], ["sync"]),  # `stock` is the value
        (["--ledger=x.db", "-q", "stock", "set", "MUG", "3"], ["stock"]),
        (["channels", "reset", "web", "--since", "2d"], ["channels"]),
        (["sync", "--help"], ["sync"]),
    ],
)
def test_a_command_line_naming_a_command_builds_only_that_command(
    args: list[str], kept: list[str]
) -> None:
    assert commands_of(only_the_command(app, args)) == kept
    assert len(commands_of(app)) > 10  # the app itself keeps every command


@pytest.mark.parametrize(
    "args",
    [[], ["--help"], ["--help", "sync"], ["-v"], ["synk"], ["--config", "a.toml"], ["--", "x"]],
)
def test_a_command_line_naming_no_known_command_builds_them_all(args: list[str]) -> None:
    # --help lists every command, and an unknown name is told the near ones.
    assert only_the_command(app, args) is app


def test_the_root_options_that_take_a_value_are_known_to_the_command_finder() -> None:
    root = typer.main.get_command(app)
    takes_value = {
        name
        for param in root.params
        if param.param_type_name == "option" and not getattr(param, "is_flag", False)
        for name in param.opts
    }
    assert takes_value == ROOT_VALUE_OPTIONS


@pytest.mark.parametrize(
    "args",
    [
        ["sync", "--help"],
        ["sync", "--since", "yesterday-ish"],
        ["sync", "--bogus"],
        ["channels"],
        ["runs", "--json"],
        ["stock", "--json"],
        ["stock", "set", "MUG"],
        ["--ledger", "elsewhere.db", "log"],
    ],
)
def test_building_only_the_named_command_changes_no_output(
    shop: Shop, runner: CliRunner, args: list[str]
) -> None:
    shop.write_channel("web", listings=[listing("L1", "MUG", 5)])
    shop.write_config({"web": {}})
    full = ["--config", str(shop.config), *args]
    whole = runner.invoke(app, full)
    only = runner.invoke(only_the_command(app, full), full)
    assert only_the_command(app, full) is not app
    assert (only.exit_code, only.stdout, only.stderr) == (
        whole.exit_code,
        whole.stdout,
        whole.stderr,
    )


def test_text_that_looks_like_an_emoji_code_is_printed_as_it_is(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel("web")
    shop.write_config({"web": {}})
    config = ["--config", str(shop.config)]
    added = runner.invoke(app, [*config, "stock", "add", "MUG:tea:", "3", "--new"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, [*config, "stock"])
    assert "MUG:tea:" in listed.stdout  # not "MUG🍵"


def test_a_json_sync_loads_no_renderer(tmp_path: Path) -> None:
    # cron's `sync --json` prints with json.dumps: rich is for tables, a spinner and errors.
    shop = Shop(tmp_path)
    shop.write_channel("web", listings=[listing("L1", "MUG", 5)])
    shop.write_config({"web": {}})
    modules = imported_by("--config", str(shop.config), "sync", "--json", cwd=tmp_path)
    assert "omnisync.sync.run" in modules  # the run happened
    assert not {name for name in modules if name.split(".")[0] == "rich"}


def test_a_quiet_sync_loads_the_renderer_only_to_say_a_problem(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    shop.write_channel("web", listings=[listing("L1", "MUG", 5)])
    shop.write_config({"web": {}})
    config = ["--config", str(shop.config)]
    assert run_cli(tmp_path, *config, "stock", "add", "MUG", "5", "--new").returncode == 0
    quiet = imported_by(*config, "-q", "sync", cwd=tmp_path)
    assert "omnisync.sync.run" in quiet and "rich" not in quiet
    # A listing whose SKU the ledger does not know is a problem: said, even with -q.
    shop.write_channel("web", listings=[listing("L1", "MUG", 5), listing("L2", "CUP", 1)])
    done = run_cli(tmp_path, *config, "-q", "sync")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "unmapped: web SKU 'CUP' maps to no SKU" in done.stderr


def test_an_http_sync_loads_no_command_line_of_httpx(tmp_path: Path) -> None:
    woo = FakeWoo()
    woo.add_product("MUG", 5)
    with serve(woo) as url:
        (tmp_path / "omnisync.toml").write_text(
            f'[ledger]\npath = "inventory.db"\n\n[channels.woo]\ntype = "woocommerce"\n'
            f'url = "https://shop.example"\nkey = "{woocommerce_api.KEY}"\n'
            f'secret = "{woocommerce_api.SECRET}"\nbase_url = "{url}"\n'
        )
        Ledger.open(tmp_path / "inventory.db", write=True, create=True).close()
        modules = imported_by(
            "--config", str(tmp_path / "omnisync.toml"), "sync", "--json", cwd=tmp_path
        )
    assert woo.requests  # the channel was reached, over httpx
    assert "httpx" in modules
    # httpx's own CLI (its `main`) would bring click, pygments and rich: ~30 ms per run.
    for unused in ("click", "pygments", "rich"):
        assert unused not in {name.split(".")[0] for name in modules}, unused


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omnisync", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_a_command_ends_with_its_exit_code_and_all_of_its_output(tmp_path: Path) -> None:
    # The process leaves without Python's teardown: nothing it printed may be lost with it.
    shop = Shop(tmp_path)
    shop.write_channel("web")
    shop.write_config({"web": {}})
    skus = [f"SKU-{n:05d}" for n in range(3000)]  # ~300 KB of JSON: many pipe buffers
    (tmp_path / "stock.csv").write_text("sku,on_hand\n" + "".join(f"{s},7\n" for s in skus))
    config = ["--config", str(shop.config)]
    imported = run_cli(tmp_path, *config, "stock", "import", str(tmp_path / "stock.csv"))
    assert imported.returncode == 0, imported.stderr

    listed = run_cli(tmp_path, *config, "stock", "--json")

    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [row["sku"] for row in rows] == skus
    assert {row["on_hand"] for row in rows} == {7}


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["--config", "missing.toml", "sync"], 2, "Error: missing.toml: no such config file"),
        (["sync", "--bogus"], 2, "No such option: --bogus"),
    ],
)
def test_a_failing_command_keeps_its_exit_code_and_message(
    tmp_path: Path, args: list[str], code: int, said: str
) -> None:
    done = run_cli(tmp_path, *args)
    assert done.returncode == code
    assert said in done.stderr


@pytest.mark.parametrize("closed", ["stdout", "stderr"])
def test_a_command_started_with_a_stream_closed_exits_with_its_own_code(
    tmp_path: Path, closed: str
) -> None:
    # cron, supervisors and launchers may start a program with stdout or stderr closed
    # (Python then has None for it): a sync that succeeded must not exit 1 for it, or a
    # script retrying a "failed" `stock add` would add the units twice.
    shop = Shop(tmp_path)
    shop.write_channel("web", listings=[listing("L1", "MUG", 5)])
    shop.write_config({"web": {}})
    config = ["--config", str(shop.config)]
    assert run_cli(tmp_path, *config, "stock", "add", "MUG", "5", "--new").returncode == 0
    done = subprocess.run(
        [
            "sh",
            "-c",
            f'exec "$0" -m omnisync "$@" {">&-" if closed == "stdout" else "2>&-"}',
            sys.executable,
            *config,
            "-q",
            "sync",
        ],
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0


def test_what_is_registered_to_run_at_exit_still_runs(tmp_path: Path) -> None:
    # Python's teardown is skipped, not the exit handlers (logging's flush, coverage, ...).
    marker = tmp_path / "ran"
    probe = (
        "import atexit, pathlib, sys\n"
        f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes')\n"
        "sys.argv = ['omnisync', '--version']\n"
        "from omnisync.cli import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout == "omnisync 0.1.0\n"
    assert marker.read_text() == "yes"


def test_a_command_process_keeps_the_collector_policy_of_a_run(tmp_path: Path) -> None:
    # A run holds every listing and order it read; with Python's own thresholds back after
    # it, a full pass of the cycle collector walked them all just before the exit (17-35 ms
    # after a 5,000-listing sync, too big a run for a test: the policy itself is checked).
    shop = Shop(tmp_path)
    shop.write_channel("web", listings=[listing("L1", "MUG", 5)])
    shop.write_config({"web": {}})
    probe = (
        "import atexit, gc, json, sys\n"
        "atexit.register(lambda: print(json.dumps(gc.get_threshold()), file=sys.stderr))\n"
        f"sys.argv = ['omnisync', '--config', {str(shop.config)!r}, 'sync', '--json']\n"
        "from omnisync.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert json.loads(done.stdout)["channels"]["web"]["status"] == "ok"
    young, middle, full = json.loads(done.stderr.strip().splitlines()[-1])
    assert young == YOUNG_PASS_EVERY  # as inside a run: a young pass per 100,000 new objects
    assert full >= 1 << 30  # and never one over every object
