"""Every `cdp sync` command and `cdp build`, through the CLI, on a built demo warehouse and the sandbox."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from conftest import ROOT, Warehouse, copy_of_built_duckdb
from reverse_etl.cli import cli
from reverse_etl.dbt import production_build_args
from reverse_etl.destinations.webhook import WebhookDestination
from reverse_etl.errors import ConfigError, DestinationAuthError, PartialFailure
from reverse_etl.project import target_dir
from reverse_etl.sandbox.run import running_sandbox


@pytest.fixture(scope="module")
def demo_warehouse(built_duckdb: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return copy_of_built_duckdb(built_duckdb, tmp_path_factory.mktemp("sync_cli"))


@pytest.fixture
def cli_env(demo_warehouse, monkeypatch: pytest.MonkeyPatch):
    for key, value in demo_warehouse.env.items():
        monkeypatch.setenv(key, value)
    with running_sandbox() as servers:
        yield demo_warehouse, servers["webhook"].service


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_list_plan_run_status_history(cli_env) -> None:
    warehouse, service = cli_env
    customers = warehouse.scalar("select count(*) from activation.sync_webhook__customers")

    listed = invoke("sync", "list")
    assert (
        listed.exit_code == 0
        and "webhook_customers: sync_webhook__customers -> webhook (upsert)" in listed.output
    )

    planned = invoke("sync", "plan", "webhook_customers", "--show", "1")
    assert planned.exit_code == 0, planned.output
    assert f"added {customers:,}" in planned.output and "POST http://127.0.0.1:" in planned.output
    assert "Authorization: ***" in planned.output and service.token not in planned.output
    assert service.records == {}, "a plan sends nothing"

    ran = invoke("sync", "run", "webhook_customers")
    assert ran.exit_code == 0, ran.output
    assert f"confirmed {customers:,}" in ran.output and len(service.records) == customers

    status = invoke("sync", "status")
    assert f"webhook_customers: {customers:,} synced, 0 rejected" in status.output
    history = invoke("sync", "history", "webhook_customers")
    assert history.exit_code == 0 and f"confirmed {customers}" in history.output


def test_rejects_shown_by_status_and_replayed_by_retry_rejects(cli_env) -> None:
    warehouse, service = cli_env
    from reverse_etl.sandbox.server import Faults

    invoke("sync", "run", "webhook_customers")
    # Forget what was synced, so the next run sends every row again, now with rejects.
    warehouse.execute("delete from cdp_sync.snapshots")
    service.records.clear()
    service.faults = Faults(seed=1, record_reject_rate=0.2)
    ran = invoke("sync", "run", "webhook_customers")
    assert isinstance(ran.exception, PartialFailure)
    rejected = warehouse.scalar("select count(*) from cdp_sync.snapshots where status = 'rejected'")
    assert rejected > 0
    status = invoke("sync", "status")
    assert f"{rejected:,} rejected" in status.output and "rejected by the sandbox" in status.output
    service.faults = Faults(seed=1)
    retried = invoke("sync", "retry-rejects", "webhook_customers")
    assert retried.exit_code == 0, retried.output
    assert f"sent {rejected:,}, confirmed {rejected:,}" in retried.output


def test_unknown_sync_is_named(cli_env) -> None:
    result = invoke("sync", "run", "no_such_sync")
    assert "no sync named 'no_such_sync'" in str(result.exception)


def test_build_runs_dbt_then_due_syncs(cli_env) -> None:
    warehouse, service = cli_env
    result = invoke("build")
    assert result.exit_code == 0, result.output
    assert "dbt build:" in result.output
    assert "webhook_customers:" in result.output
    ran = json.loads((target_dir(ROOT) / "run_results.json").read_text())["results"]
    kinds = {node["unique_id"].split(".")[0] for node in ran}
    assert {"model", "test"} <= kinds and "unit_test" not in kinds, "data tests run, unit tests do not"


def test_the_production_build_leaves_out_unit_tests_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDP_BUILD_UNIT_TESTS", raising=False)
    monkeypatch.delenv("DBT_EXCLUDE_RESOURCE_TYPES", raising=False)
    assert production_build_args() == ["build", "--quiet", "--exclude-resource-type", "unit_test"]
    monkeypatch.setenv("CDP_BUILD_UNIT_TESTS", "true")
    assert production_build_args() == ["build", "--quiet"]
    monkeypatch.setenv("CDP_BUILD_UNIT_TESTS", "yes please")
    with pytest.raises(ConfigError, match="CDP_BUILD_UNIT_TESTS must be true or false"):
        production_build_args()
    # dbt's own setting, when given, decides what is left out.
    monkeypatch.setenv("CDP_BUILD_UNIT_TESTS", "false")
    monkeypatch.setenv("DBT_EXCLUDE_RESOURCE_TYPES", "unit_test test")
    assert production_build_args() == ["build", "--quiet"]


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """`cdp ARGS` through the entry point's error handler: (exit code, what it printed to stderr)."""
    from reverse_etl.cli import main

    monkeypatch.setattr(sys, "argv", ["cdp", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def test_a_refused_credential_stops_the_run_with_no_rejects(
    cli_env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse, service = cli_env
    warehouse.execute("drop schema if exists cdp_sync cascade")  # this sync starts afresh
    customers = warehouse.scalar("select count(*) from activation.sync_webhook__customers")
    monkeypatch.setattr(WebhookDestination, "batch_size", lambda self: 40)
    token = service.token
    checked: list[str] = []
    check_auth = service.check_auth

    def revoke_after_the_first_request(request) -> None:
        checked.append(request.path)
        if len(checked) == 2:
            service.token = "rotated-at-the-vendor"  # the credential the sync holds is revoked mid-run
        check_auth(request)

    monkeypatch.setattr(service, "check_auth", revoke_after_the_first_request)
    ran = invoke("sync", "run", "webhook_customers")
    assert isinstance(ran.exception, DestinationAuthError) and ran.exception.exit_code == 7
    message = str(ran.exception)
    assert message.startswith("webhook refused the credential (HTTP 401 to POST /records)"), message
    assert token not in message and "\n" not in message
    assert len(checked) == 2, "nothing is sent after the refused batch"
    assert len(service.records) == 40
    statuses = dict(warehouse.query("select status, count(*) from cdp_sync.snapshots group by 1"))
    assert statuses.get("synced") == 40 and set(statuses) <= {"synced", "pending"}, statuses
    assert warehouse.scalar("select count(*) from cdp_sync.rejects") == 0
    status, error = warehouse.query(
        "select status, error from cdp_sync.runs order by started_at desc limit 1"
    )[0]
    assert status == "failed" and error == message

    # Through the entry point: one line on stderr and the documented exit code.
    code, stderr = run_main(monkeypatch, capsys, "sync", "run", "webhook_customers")
    assert code == 7 and "error: webhook refused the credential" in stderr and token not in stderr
    assert "Traceback" not in stderr and len(checked) == 3

    service.token = token  # the credential fixed: the next run sends the rest, each row once
    rerun = invoke("sync", "run", "webhook_customers")
    assert rerun.exit_code == 0, rerun.output
    assert len(service.records) == customers and max(service.creates.values()) == 1


def test_history_names_an_unknown_sync_and_says_when_a_sync_never_ran(
    cli_env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse, _ = cli_env
    unknown = invoke("sync", "history", "no_such_sync")
    assert isinstance(unknown.exception, ConfigError)
    assert "no sync named 'no_such_sync' (declared: " in str(unknown.exception)
    warehouse.execute("delete from cdp_sync.runs where sync_name = 'webhook_customers'")
    never = invoke("sync", "history", "webhook_customers")
    assert never.exit_code == 0 and never.output == "webhook_customers: no runs yet\n"
    code, stderr = run_main(monkeypatch, capsys, "sync", "history", "no_such_sync")
    assert code == 2 and stderr.startswith("error: no sync named 'no_such_sync'") and stderr.count("\n") == 1


def test_duplicated_keys_are_named_by_run_history_and_status(cli_env) -> None:
    warehouse, _ = cli_env
    key = warehouse.scalar("select min(customer_id) from activation.sync_webhook__customers")
    warehouse.execute(
        "create table activation.kept_row as select * from activation.sync_webhook__customers where customer_id = ?",
        (key,),
    )
    warehouse.execute(
        "insert into activation.sync_webhook__customers select * from activation.sync_webhook__customers "
        "where customer_id = ?",
        (key,),
    )
    try:
        ran = invoke("sync", "run", "webhook_customers")
        assert ran.exit_code == 0 or isinstance(ran.exception, PartialFailure), ran.output
        named = f"2 rows share a key and were not sent (keys: {key})"
        assert named in str(ran.exception or ran.output)
        assert named in invoke("sync", "history", "webhook_customers").output
        assert named in invoke("sync", "status").output
    finally:
        warehouse.execute("delete from activation.sync_webhook__customers where customer_id = ?", (key,))
        warehouse.execute("insert into activation.sync_webhook__customers select * from activation.kept_row")
        warehouse.execute("drop table activation.kept_row")


def entry_point(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, list[dict]]:
    """`cdp ARGS` through the entry point: (exit code, stdout, the JSON lines of stderr)."""
    from reverse_etl.cli import main

    monkeypatch.setattr(sys, "argv", ["cdp", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return (code if isinstance(code, int) else 1), out, events


def test_cli_runs_and_cdp_build_write_run_events_on_stderr_and_alert(
    cli_env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bi_reader import bi_user
    from web_server import AlertReceiver

    from reverse_etl.sandbox.server import Faults

    warehouse, service = cli_env
    receiver = AlertReceiver()
    monkeypatch.setenv("CDP_ALERT_WEBHOOK_URL", receiver.url)
    try:
        assert invoke("sync", "run", "webhook_customers").exit_code in (0, 6)
        warehouse.execute("delete from cdp_sync.snapshots")  # every row is sent again, now with rejects
        service.records.clear()
        service.faults = Faults(seed=1, record_reject_rate=0.2)
        before = len(receiver.received)
        code, out, events = entry_point(monkeypatch, capsys, "sync", "run", "webhook_customers")
        assert code == 6 and "{" not in out, "stdout is for people"
        start, end, alert = events[-3:]
        assert (start["event"], start["sync"], start["trigger"]) == ("run_start", "webhook_customers", "cli")
        assert end["event"] == "run_end" and end["status"] == "partial" and end["rejected"] > 0
        assert (alert["event"], alert["kind"]) == ("alert", "rejects")
        (posted,) = receiver.received[before:]
        assert posted["text"].startswith("cdp sync webhook_customers rejected more rows than allowed")
        assert f"{end['rejected']:,} of {end['sent']:,} rows rejected" in posted["text"]

        service.faults = Faults(seed=1)
        # Every row now differs from what was confirmed: more change than the sync allows.
        warehouse.execute("update cdp_sync.snapshots set confirmed_hash = 'stale', status = 'synced'")
        code, _, events = entry_point(monkeypatch, capsys, "sync", "run", "webhook_customers")
        assert code != 0 and events[-2]["status"] == "refused" and events[-1]["kind"] == "refused"
        assert receiver.received[-1]["text"].startswith(
            "cdp sync webhook_customers was refused by the blast-radius guard"
        )

        with bi_user(warehouse.target.path):
            code, out, events = entry_point(monkeypatch, capsys, "build")
        assert code != 0 and "dbt build:" not in out
        assert [event["event"] for event in events] == ["build_start", "build_end", "alert"]
        assert events[1]["status"] == "failed" and "warehouse busy" in events[1]["error"]
        assert receiver.received[-1]["text"].startswith("cdp dbt build failed: warehouse busy")
    finally:
        service.faults = Faults(seed=1)
        warehouse.execute("drop schema if exists cdp_sync cascade")
        receiver.close()
