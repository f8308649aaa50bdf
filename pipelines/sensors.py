"""Sensors: start the nightly job when new submissions appear in the landing folder or the portal;
and send an alert when a run fails (:func:`run_failure_alert`).

Neither starts a run for what ingestion already landed: a sensor with no cursor yet (first
start, a reset) starts from the warehouse's ``raw.landing_fingerprints`` instead of hashing every
landing file, and portal submissions whose content already landed are not arrivals
(:func:`pipelines.quiet.known_landing`; the working file is read only when no run holds it).

Run keys come from what arrived (path plus content hash; portal submission ids), so a re-delivered
identical file never starts a run, and a corrected file (new hash) does. Each run covers exactly the
months the arrivals report on (a late July file arriving in September reruns July), as one run over
that range of month partitions. An arrival whose name tells no period (its rows will) asks for every
month, from the first partition to the latest: the run lands it under whichever month its rows tell.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from pipelines.alerts import failure_message, post_alert
from pipelines.catchup import WILL_RETRY_TAG, run_months
from pipelines.ingestion.fingerprints import same_content
from pipelines.ingestion.identity import parse_submission_name
from pipelines.ingestion.incoming import ParseName, landing_incoming, portal_item
from pipelines.ingestion.unread import NotReady
from pipelines.partitions import latest_month
from pipelines.periods import ALL_MONTHS, FIRST_MONTH, range_tags
from pipelines.quiet import known_landing
from pipelines.resources import AlertResource, LandingFolderResource, PortalResource, WarehouseResource
from pipelines.settings import env_value


def landing_fingerprints(
    root: Path, previous: dict[str, list], parse_name: ParseName = parse_submission_name
) -> tuple[dict[str, list], dict[str, str | None]]:
    """``relative path -> [size, mtime_ns, sha256]`` of every landing file ready to land (read and
    hashed only when its size or mtime changed since ``previous``, the same rule ingestion applies
    to ``raw.landing_fingerprints``; what is ready is ingestion's rule too,
    :mod:`pipelines.ingestion.landing`), and the month partition each file lands in. A file refused
    unread (a link, too large) counts with its stand-in hash, so that a run records the refusal."""
    current, months = {}, {}
    for inc in landing_incoming(root, parse_name=parse_name):
        try:
            fp, _ = inc.fingerprint(previous)
        except NotReady:
            # Still being written, or gone: a later evaluation looks again, as ingestion does. A file
            # known before keeps its entry, so that rewriting the same bytes starts no run.
            if inc.stat.path in previous:
                current[inc.stat.path] = previous[inc.stat.path]
            continue
        current[fp.path] = [fp.size, fp.mtime_ns, fp.sha256]
        months[fp.path] = inc.partition
    return current, months


def new_arrivals(previous: dict[str, list], current: dict[str, list]) -> list[str]:
    """``path:hash`` of files that are new or whose content changed (a cursor from before full
    hashes holds 16-character prefixes: a file whose full hash begins with it is unchanged)."""
    return sorted(
        f"{rel}:{fp[2]}" for rel, fp in current.items()
        if rel not in previous or not same_content(previous[rel][2], fp[2])
    )


def run_key_for(arrivals: list[str]) -> str:
    return hashlib.sha256("\n".join(arrivals).encode()).hexdigest()[:32]


def run_request(prefix: str, arrivals: list[str], months: list[str | None]) -> RunRequest:
    """One run over the months that arrived. A file with no usable period (a name refused outright,
    or a period before the first partition) is landed by any run, so it takes the latest month; a
    file whose period only its rows tell (:data:`ALL_MONTHS`) makes the run cover every month."""
    if ALL_MONTHS in months:
        months = [FIRST_MONTH, latest_month()]
    known = sorted({m for m in months if m}) or [latest_month()]
    tags = {"arrivals": str(len(arrivals)), **range_tags(known[0], known[-1])}
    return RunRequest(run_key=f"{prefix}-{run_key_for(arrivals)}", tags=tags)


@sensor(job_name="nightly", minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED)
def landing_folder_sensor(context: SensorEvaluationContext, landing: LandingFolderResource):
    """New or changed files under KONVERGENSI_LANDING_DIR start a run."""
    if not landing.configured:
        return SkipReason("KONVERGENSI_LANDING_DIR is not set")
    previous = json.loads(context.cursor) if context.cursor else {}
    if not previous:
        # No cursor yet: what ingestion already read is not an arrival, and is not hashed again.
        known = known_landing(_warehouse().work_path)
        previous = known[0] if known else {}
    current, partitions = landing_fingerprints(landing.root, previous)
    arrivals = new_arrivals(previous, current)
    if not arrivals:
        return SensorResult(skip_reason="no new or changed files", cursor=json.dumps(current))
    months = [partitions[a.rsplit(":", 1)[0]] for a in arrivals]
    return SensorResult(run_requests=[run_request("landing", arrivals, months)], cursor=json.dumps(current))


@sensor(job_name="nightly", minimum_interval_seconds=300, default_status=DefaultSensorStatus.STOPPED)
def portal_sensor(context: SensorEvaluationContext, portal: PortalResource):
    """Polls the portal for submissions updated since the last poll."""
    if not portal.configured:
        return SkipReason("KONVERGENSI_PORTAL_URL is not set")
    state = json.loads(context.cursor) if context.cursor else {}
    client = portal.client()
    items = list(client.list_submissions(updated_since=state.get("updated_since")))
    if not items:
        return SkipReason("no new submissions on the portal")
    latest = max(i["updated_at"] for i in items)
    listed = [(item, portal_item(client, item)) for item in items]
    known = known_landing(_warehouse().work_path)
    if known is not None:
        fresh = [(item, inc) for item, inc in listed if not known[1].holds(inc, inc.sha256)]
        if not fresh:
            return SensorResult(skip_reason=f"{len(items)} portal submission(s) listed, all already landed",
                                cursor=json.dumps({"updated_since": latest}))
        listed = fresh
    ids = sorted(item["submission_id"] for item, _ in listed)
    months = [inc.partition for _, inc in listed]
    return SensorResult(run_requests=[run_request("portal", ids, months)], cursor=json.dumps({"updated_since": latest}))


def _warehouse() -> WarehouseResource:
    """The configured warehouse's paths; not set up as a resource (that would wait for a run's lock)."""
    return WarehouseResource(path=env_value("KONVERGENSI_WAREHOUSE"))


def failed_blocking_checks(instance, run_id: str) -> list[str]:
    """``schema/table/check`` of every blocking check that failed in the run."""
    out = []
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if not evaluation.passed and getattr(evaluation, "blocking", False):
            out.append(f"{evaluation.asset_key.to_user_string()}/{evaluation.check_name}")
    return out


@run_failure_sensor(name="run_failure_alert", default_status=DefaultSensorStatus.RUNNING)
def run_failure_alert(context: RunFailureSensorContext, alerts: AlertResource):
    """POSTs a JSON alert to KONVERGENSI_ALERT_WEBHOOK for each failed run (nothing when unset)."""
    if not alerts.configured:
        return SkipReason("KONVERGENSI_ALERT_WEBHOOK is not set")
    run = context.dagster_run
    message = failure_message(
        run_id=run.run_id,
        job=run.job_name,
        months=run_months(run.tags),
        failed_steps=[e.step_key for e in context.get_step_failure_events() if e.step_key],
        failed_checks=failed_blocking_checks(context.instance, run.run_id),
        ui_url=alerts.ui_base,
        error=context.failure_event.message or "",
        will_retry=run.tags.get(WILL_RETRY_TAG) == "true",
    )
    post_alert(alerts.webhook, message)
