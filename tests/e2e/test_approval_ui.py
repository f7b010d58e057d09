"""An operator approves a recommendation in the Dagster UI (headless Chromium) and the patch lands on the cluster.

The stack is production-shaped (PostgreSQL instance, webserver + daemon); the cluster is the fake Kubernetes API
serving the demo fleet's prod-us. The browser does what a person does: open the remediation asset's partitions,
pick the recommendation, open the Launchpad, type the decision config, Materialize. Screenshots are kept.
"""

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from dagster._core.instance.ref import InstanceRef
from fakes.dagster_stack import (
    APPROVER,
    DagsterStack,
    available,
    inventory,
    remediation_config,
    start_dagster,
    start_postgres,
)
from fakes.kube_api import FakeKubeApi

from inferops_pipeline.defs.inprocess import UP_TO_RECOMMENDATIONS, materialize_date
from inferops_pipeline.defs.remediation.sensors import recommendation_inbox
from inferops_pipeline.defs.resources import InferopsResource

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
PARTITION = "2026-11-30"

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"),
    pytest.mark.skipif(available() is not None, reason=str(available())),
]


@pytest.fixture(scope="module")
def ui(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DagsterStack, FakeKubeApi, Path]]:
    """Stack up, nightly run recorded in its instance, inbox sensor ticked once."""
    root = tmp_path_factory.mktemp("approval-ui")
    with FakeKubeApi(inventory(demo_dir / "inventory" / "prod-us")) as api:
        config = remediation_config(demo_dir, root, api.url)
        pg = start_postgres()
        try:
            stack = start_dagster(root / "dagster_home", pg, {"INFEROPS_CONFIG": str(config)})
            try:
                instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(stack.home)))
                materialize_date(
                    PARTITION,
                    resources={"inferops": InferopsResource(config_path=str(config))},
                    instance=instance,
                    stages=UP_TO_RECOMMENDATIONS,  # what the inbox sensor reads
                )
                tick = recommendation_inbox(dg.build_sensor_context(instance=instance))
                assert isinstance(tick, dg.SensorResult)
                for request in tick.dynamic_partitions_requests or []:
                    assert isinstance(request, dg.AddDynamicPartitionsRequest)
                    instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
                instance.dispose()
                yield stack, api, config
            finally:
                stack.stop()
        finally:
            pg.stop()


def pending_scale(warehouse: Path) -> dict[str, Any]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(
            "select recommendation_id, namespace, target_name, patch from recommendations "
            "where cluster = 'prod-us' and action = 'scale_replicas' and not scale_to_zero and status = 'pending' "
            "order by recommendation_id limit 1"
        )
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
        assert row is not None
        return dict(zip(names, row, strict=True))
    finally:
        con.close()


def deployment(api: FakeKubeApi, namespace: str, name: str) -> dict[str, Any]:
    return next(
        d
        for d in api.objects("deployments")
        if d["metadata"]["namespace"] == namespace and d["metadata"]["name"] == name
    )


RUNS = """query Runs($key: String!) { runsOrError(filter: {tags: [{key: "dagster/partition", value: $key}]}) {
  ... on Runs { results { runId status } } } }"""


def wait_for_run(stack: DagsterStack, key: str, timeout_s: float = 60) -> str:
    """The status of the partition's run once it has finished (the run the UI launched)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = stack.graphql(RUNS, {"key": key})["data"]["runsOrError"]["results"]  # type: ignore[index]
        if runs and runs[0]["status"] in {"SUCCESS", "FAILURE", "CANCELED"}:
            return str(runs[0]["status"])
        time.sleep(0.5)
    raise TimeoutError(f"the run of partition {key} did not finish")


def keep(shots: list[Path]) -> None:
    # INFEROPS_ARTIFACTS=1 keeps the screenshots in test-artifacts/ at the repo root (CI uploads them); a path, there.
    artifacts = os.environ.get("INFEROPS_ARTIFACTS")
    if artifacts:
        target = REPO / "test-artifacts" if artifacts.lower() in {"1", "true", "yes"} else Path(artifacts)
        target.mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, target / shot.name)


def test_operator_approves_in_the_launchpad_and_the_patch_is_applied(
    ui: tuple[DagsterStack, FakeKubeApi, Path], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    stack, api, config = ui
    rec = pending_scale(config.parent / "warehouse.duckdb")
    key, ns, name = rec["recommendation_id"], rec["namespace"], rec["target_name"]
    wanted = json.loads(rec["patch"])["spec"]["replicas"]
    before = deployment(api, ns, name)["spec"]["replicas"]
    assert before != wanted
    decision = (
        "ops:\n  remediation:\n    config:\n      decision: APPROVE\n"
        f"      approver: {APPROVER}\n      reason: CHG-42 approved in the UI\n      dry_run: false\n"
    )
    shots: list[Path] = []
    t0 = time.monotonic()

    def shot(page: Any, name: str) -> None:
        path = tmp_path / f"approval-{len(shots) + 1}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)
        print(f"{time.monotonic() - t0:.1f}s {name}")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{stack.url}/assets/remediation?view=partitions")
            # The first visit shows a newsletter modal (DESIGN §6).
            skip = page.get_by_role("button", name="Skip")
            try:
                skip.wait_for(timeout=8000)
                skip.click()
            except Exception:  # noqa: BLE001 - no modal this time (playwright's TimeoutError)
                pass
            page.get_by_placeholder("Filter by name…").fill(key)
            page.locator("span", has_text=key).first.click()
            shot(page, "inbox")
            page.get_by_role("button", name="Materialize…").click()
            # Required config: the Launchpad opens and says what is missing.
            expect(page.get_by_text("Missing required config entries")).to_be_visible(timeout=15000)
            partition = page.get_by_placeholder("Partition")
            partition.click()
            partition.fill(key)
            page.keyboard.press("Enter")
            expect(page.get_by_text(f"partition: {key}")).to_be_visible()
            page.locator(".CodeMirror").first.click()
            page.keyboard.press("Control+A")
            # insert_text pastes like a person would; typed keys would be re-indented by the editor.
            page.keyboard.insert_text(decision)
            expect(page.get_by_text("No errors")).to_be_visible(timeout=15000)
            shot(page, "launchpad")
            page.get_by_role("dialog").get_by_role("button", name="Materialize").last.click()

            deadline = time.monotonic() + 90
            while deployment(api, ns, name)["spec"]["replicas"] != wanted:
                assert time.monotonic() < deadline, "the approved patch never reached the API server"
                time.sleep(0.5)
            obj = deployment(api, ns, name)
            assert obj["metadata"]["annotations"]["inferops.io/approved-by"] == APPROVER
            assert obj["metadata"]["annotations"]["inferops.io/recommendation"] == key

            status = wait_for_run(stack, key)
            assert status == "SUCCESS", status
            # The partition's history shows the decision.
            page.goto(f"{stack.url}/assets/remediation?view=partitions&partition={key}")
            expect(page.get_by_text("CHG-42 approved in the UI").first).to_be_visible(timeout=30000)
            expect(page.get_by_text("applied", exact=True).first).to_be_visible()
            shot(page, "decision-history")
        finally:
            browser.close()
    patches = [r for r in api.requests if r.method == "PATCH"]
    assert [r.query.get("dryRun") for r in patches[-2:]] == [["All"], None]  # server-side dry run, then the patch
    assert all(s.stat().st_size > 10_000 for s in shots)
    keep(shots)
