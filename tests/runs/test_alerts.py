"""Failure alerts: a real failed run in a real Dagster instance, the sensor POSTing to a webhook
served on loopback by the test, and nothing sent when no webhook is configured."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    SkipReason,
    asset,
    asset_check,
    build_run_status_sensor_context,
    define_asset_job,
)

from pipelines.alerts import failure_message
from pipelines.periods import range_tags
from pipelines.resources import AlertResource
from pipelines.sensors import run_failure_alert


@asset(key=["marts", "fct_example"])
def fct_example():
    return None


@asset_check(asset=fct_example, blocking=True, name="one_row_per_village")
def one_row_per_village():
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR)


@asset(key=["staging", "broken"])
def broken():
    raise RuntimeError("the step fails on purpose")


_defs = Definitions(assets=[fct_example, broken], asset_checks=[one_row_per_village],
                    jobs=[define_asset_job("nightly")])


@pytest.fixture
def failed_run(tmp_path):
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        result = _defs.resolve_job_def("nightly").execute_in_process(
            instance=instance, raise_on_error=False, tags=range_tags("2024-07", "2024-08"))
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)[0].dagster_event
        yield instance, run, failure


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def _evaluate(failed_run, alerts):
    instance, run, failure = failed_run
    ctx = build_run_status_sensor_context(
        sensor_name="run_failure_alert", dagster_event=failure, dagster_instance=instance, dagster_run=run,
        resources={"alerts": alerts},
    ).for_run_failure()
    return run_failure_alert(ctx)


def test_a_failed_run_posts_one_alert_with_steps_checks_months_and_link(failed_run, webhook):
    url, received = webhook
    _evaluate(failed_run, AlertResource(webhook=url, ui_url="http://dagster.internal:3000/"))
    assert len(received) == 1
    content_type, message = received[0]
    run_id = failed_run[1].run_id
    assert content_type == "application/json"
    assert message["run_id"] == run_id and message["job"] == "nightly"
    assert message["months"] == ["2024-07", "2024-08"]
    # A failed blocking check fails its step too: both are named.
    assert message["failed_steps"] == ["marts__fct_example_one_row_per_village", "staging__broken"]
    assert message["failed_checks"] == ["marts/fct_example/one_row_per_village"]
    assert message["run_url"] == f"http://dagster.internal:3000/runs/{run_id}"
    assert "2024-07..2024-08" in message["text"] and message["run_url"] in message["text"]
    assert message["will_retry"] is False  # this instance has no run retries


def test_nothing_is_sent_without_a_webhook(failed_run, webhook):
    _, received = webhook
    assert isinstance(_evaluate(failed_run, AlertResource(webhook="")), SkipReason)
    assert received == []


def test_the_link_uses_the_default_ui_url():
    message = failure_message("abc123", "nightly", [], [], [], AlertResource().ui_base)
    assert message["run_url"] == "http://127.0.0.1:3000/runs/abc123"
    assert "all months" in message["text"]
