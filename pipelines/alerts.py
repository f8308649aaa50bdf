"""Failure alerts: the JSON message a failed run sends to ``KONVERGENSI_ALERT_WEBHOOK``, and the
POST that sends it. Pure (no Dagster import): :func:`pipelines.sensors.run_failure_alert` gathers
the facts from the failed run and hands them here.

The message carries identifiers and names only (run id, job, step keys, check names, months, a link),
never configuration values or row contents: a webhook endpoint (chat, mail gateway) is outside the
warehouse's trust boundary.
"""

from __future__ import annotations

from collections.abc import Iterable

import requests

# Seconds to wait for the webhook: a slow chat server must not hold the sensor daemon.
WEBHOOK_TIMEOUT_SECONDS = 10


def run_link(ui_url: str, run_id: str) -> str:
    """The run's page in the Dagster UI."""
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def failure_message(
    run_id: str,
    job: str,
    months: Iterable[str],
    failed_steps: Iterable[str],
    failed_checks: Iterable[str],
    ui_url: str,
    error: str = "",
    will_retry: bool = False,
) -> dict:
    """The alert for one failed run.

    Args:
        run_id: Dagster run id.
        job: Job name (``nightly``).
        months: Month partitions the run covered (empty: no partition, i.e. every month).
        failed_steps: Step keys that failed.
        failed_checks: ``asset/check`` names of blocking checks that failed.
        ui_url: Base URL of the Dagster UI.
        error: First line of the run's failure message, if any.
        will_retry: Dagster's run retries will start it again (no action needed yet).

    Returns:
        A JSON-ready dict; ``text`` is a one-paragraph summary for chat webhooks.
    """
    months, steps, checks = sorted(set(months)), sorted(set(failed_steps)), sorted(set(failed_checks))
    span = f"{months[0]}..{months[-1]}" if len(months) > 1 else (months[0] if months else "all months")
    link = run_link(ui_url, run_id)
    parts = [f"Run {run_id[:8]} of job {job} failed ({span})."]
    if checks:
        parts.append("Blocking checks failed: " + ", ".join(checks) + ".")
    if steps:
        parts.append("Failed steps: " + ", ".join(steps) + ".")
    if error and not steps and not checks:
        parts.append(error.splitlines()[0][:300])
    parts.append("It will be retried." if will_retry else "No retry left: see docs/runbook.md.")
    parts.append(link)
    return {
        "text": " ".join(parts),
        "run_id": run_id,
        "job": job,
        "months": months,
        "failed_steps": steps,
        "failed_checks": checks,
        "run_url": link,
        "will_retry": will_retry,
    }


def post_alert(webhook_url: str, message: dict, timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> bool:
    """POST ``message`` as JSON; False (and nothing sent) when no webhook is configured. Raises on an
    HTTP error, so that the sensor tick shows the alert was not delivered."""
    if not webhook_url:
        return False
    response = requests.post(webhook_url, json=message, timeout=timeout)
    response.raise_for_status()
    return True
