"""The `inferops` command: assess, findings, sql, report, audit verify/export, demo-fleet (DESIGN §3b)."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from inferops_pipeline.domain import is_knock_on
from inferops_pipeline.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from inferops_pipeline.warehouse import Warehouse

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Assess Kubernetes GPU inference fleets.")
audit_app = typer.Typer(help="Audit log commands.")
app.add_typer(audit_app, name="audit")
err = Console(stderr=True)
EXIT_BAD_INPUT = 2
EXIT_FINDINGS = 3
EXIT_INCOMPLETE = 4  # a cluster's inventory or metrics could not be read; the rest was assessed
SEVERITIES = ["critical", "high", "medium", "low", "info"]


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


# Asset failures arrive as Dagster's serialized errors; these classes mean "bad input" (exit 2).
_BAD_INPUT_ERRORS = {"ConfigError", "SnapshotError", "NodeError"}


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _settings_with_warehouse(config: Path | None) -> Settings:
    settings = _settings(config)
    if not settings.warehouse.exists():
        raise _fail(f"{settings.warehouse}: warehouse not found (run `inferops assess` first)")
    return settings


def _window_end(settings: Settings, at: str | None) -> datetime:
    """--at, else the config's `at`, else now; naive times are UTC."""
    try:
        end = datetime.fromisoformat(at) if at else settings.window_end()
    except ValueError:
        raise _fail(f"--at {at!r}: not an ISO time") from None
    return end if end.tzinfo else end.replace(tzinfo=UTC)


def _run_graph(config_path: Path, warehouse: Path, at: datetime) -> str:
    from inferops_pipeline.defs.inprocess import UP_TO_RECOMMENDATIONS, run_date
    from inferops_pipeline.defs.resources import InferopsResource

    partition = (at - timedelta(seconds=1)).date().isoformat()
    resources = {
        "inferops": InferopsResource(config_path=str(config_path), at=at.isoformat(), warehouse_path=str(warehouse))
    }
    with err.status("assessing…"):
        for run in run_date(
            partition,
            resources=resources,
            stages=UP_TO_RECOMMENDATIONS,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        ):
            if not run.result.success:
                failure = next((e for e in run.result.all_events if e.is_step_failure), None)
                error = failure.step_failure_data.error if failure and failure.step_failure_data else None
                # Dagster wraps the asset's exception; the user needs the original one-liner.
                while error is not None and error.cause is not None and error.cls_name not in _BAD_INPUT_ERRORS:
                    error = error.cause
                message = error.message.strip().splitlines()[-1] if error else "unknown failure"
                if error is not None and error.cls_name in _BAD_INPUT_ERRORS:
                    raise _fail(message.split(": ", 1)[1] if message.startswith(f"{error.cls_name}: ") else message)
                err.print(f"[bold red]error:[/] {run.stage} failed: {message}")
                raise typer.Exit(1)
            err.print(f"[green]✓[/] {run.stage}")
    return partition


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _report(warehouse: Path, partition: str, settings: Settings, at: datetime) -> dict[str, Any]:
    from inferops_pipeline.warehouse import Warehouse, connect

    con = connect(warehouse, read_only=True)
    try:
        wh = Warehouse(con)
        day = date.fromisoformat(partition)
        findings = wh.frame_on("findings", day)
        recs = wh.frame_on("recommendations", day)
        workloads = wh.frame_on("workloads", day)
        coverage = wh.frame_on("coverage", day)
    finally:
        con.close()
    findings = findings[findings["status"] != "resolved"]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings = findings.assign(
        _rank=findings["severity"].map(rank), _usd=findings["monthly_waste_usd"] + findings["monthly_at_risk_usd"]
    )
    findings = findings.sort_values(["_rank", "_usd"], ascending=[True, False]).drop(columns=["_rank", "_usd"])
    records = []
    for r in findings.to_dict(orient="records"):
        r["evidence"] = json.loads(r["evidence"]) if isinstance(r["evidence"], str) else r["evidence"]
        r.pop("assessment_date", None)
        records.append(r | {"assessment_date": partition, "first_seen": str(r["first_seen"])})
    rec_records = []
    for r in recs.to_dict(orient="records"):
        r["patch"], r["inverse_patch"] = json.loads(r["patch"]), json.loads(r["inverse_patch"])
        rec_records.append(r | {"assessment_date": partition})
    by_type: dict[str, dict[str, float]] = {}
    # Exempted findings (inferops.io/ignore) are listed but never totalled; their money columns are 0 already and
    # their dollars sit in evidence — skipping them here also keeps them out of the per-type counts.
    counted = [r for r in records if not r.get("suppressed")]
    for r in counted:
        entry = by_type.setdefault(r["type"], {"count": 0, "monthly_waste_usd": 0.0, "monthly_at_risk_usd": 0.0})
        entry["count"] += 1
        entry["monthly_waste_usd"] = round(entry["monthly_waste_usd"] + r["monthly_waste_usd"], 2)
        entry["monthly_at_risk_usd"] = round(entry["monthly_at_risk_usd"] + r["monthly_at_risk_usd"], 2)
    running = workloads[workloads["running_pods"] > 0] if not workloads.empty else workloads
    gaps = sum(1 for r in records if r["type"] == "observability_gap")
    return {
        "assessment": {
            "at": at.isoformat(),
            "window": settings.window,
            "clusters": [c.name for c in settings.clusters],
            "coverage": {
                "workloads": int(len(running)),
                "workloads_with_metrics": int(len(running)) - gaps,
                "clusters": _coverage(coverage),
            },
        },
        "findings": records,
        "recommendations": rec_records,
        "totals": {
            "monthly_waste_usd": round(sum(r["monthly_waste_usd"] for r in counted), 2),
            "monthly_at_risk_usd": round(sum(r["monthly_at_risk_usd"] for r in counted), 2),
            "by_type": by_type,
            "suppressed": len(records) - len(counted),
        },
    }


# A CRD or exporter that is simply not installed does not degrade a cluster; denials and errors do.
_COVERAGE_RANK = {"ok": 0, "absent": 0, "sparse": 1, "denied": 2, "error": 3}


def _coverage(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """{cluster: {status, <source>: {<part>: {status, items, detail}}}}; status is the cluster's worst part."""
    clusters: dict[str, dict[str, Any]] = {}
    for row in frame.to_dict(orient="records"):
        entry = clusters.setdefault(row["cluster"], {"status": "ok"})
        part = {"status": row["status"], "items": int(row["items"])}
        if row["detail"]:
            part["detail"] = row["detail"]
        entry.setdefault(row["source"], {})[row["part"]] = part
        if _COVERAGE_RANK[row["status"]] > _COVERAGE_RANK[entry["status"]]:
            entry["status"] = row["status"]
    return clusters


def _degraded(entry: dict[str, Any], *statuses: str) -> list[tuple[str, str, str]]:
    """(source, part, detail) of the parts in `statuses`, without those only skipped because another part failed."""
    found = []
    for source, parts in entry.items():
        if source == "status":
            continue
        for part, info in parts.items():
            detail = info.get("detail", "")
            if info["status"] in statuses and not is_knock_on(detail):
                found.append((source, part, detail))
    return found


def _coverage_line(clusters: dict[str, dict[str, Any]]) -> str:
    """`coverage: prod-us ok · prod-gcp denied (kubernetes deployments)` under the findings table."""
    parts = []
    for cluster, entry in clusters.items():
        degraded = [f"{source} {part}" for source, part, _ in _degraded(entry, "denied", "error")]
        parts.append(f"{cluster} {entry['status']}" + (f" ({', '.join(degraded)})" if degraded else ""))
    return "coverage: " + (" · ".join(parts) if parts else "not recorded")


def _incomplete(report: dict[str, Any]) -> list[str]:
    """One line per unreadable cause so a partial assessment is never mistaken for a clean one: errors, and metrics
    the server refused (a denied Prometheus answers every signal that way; a denied object kind still ingests)."""
    causes: dict[tuple[str, str, str], list[str]] = {}
    for cluster, entry in report["assessment"]["coverage"]["clusters"].items():
        for source, part, detail in _degraded(entry, "error", "denied"):
            if entry[source][part]["status"] == "error" or source == "prometheus":
                causes.setdefault((cluster, source, detail or "unreadable"), []).append(part)
    return [
        f"cluster {cluster}: {source} {parts[0] if len(parts) == 1 else f'({len(parts)} parts)'}: {detail}"
        for (cluster, source, detail), parts in causes.items()
    ]


def _print(report: dict[str, Any], output: str, out: Path | None) -> None:
    columns = [
        "severity",
        "type",
        "cluster",
        "namespace",
        "workload",
        "gpu_model",
        "monthly_waste_usd",
        "monthly_at_risk_usd",
        "title",
    ]
    frame = pd.DataFrame(report["findings"], columns=[*columns, "finding_id"])
    if output == "json":
        text = json.dumps(report, indent=2, default=str)
    elif output == "csv":
        text = frame.to_csv(index=False)
    elif output == "markdown":
        text = frame[columns].to_markdown(index=False)
    else:
        console = Console(file=out.open("w") if out else sys.stdout, width=200 if out else None)
        table = Table(
            title=f"{len(frame)} findings · window {report['assessment']['window']} ending {report['assessment']['at']}"
        )
        for column in ("severity", "type", "cluster/namespace/workload", "GPU", "waste $/mo", "at risk $/mo", "title"):
            table.add_column(column, justify="right" if "$" in column else "left", overflow="fold")
        for r in report["findings"]:
            table.add_row(
                r["severity"],
                r["type"],
                f"{r['cluster']}/{r['namespace']}/{r['workload']}",
                r["gpu_model"],
                _money(r["monthly_waste_usd"]),
                _money(r["monthly_at_risk_usd"]),
                r["title"],
            )
        totals = report["totals"]
        table.add_section()
        table.add_row(
            "", "total", "", "", _money(totals["monthly_waste_usd"]), _money(totals["monthly_at_risk_usd"]), ""
        )
        console.print(table)
        console.print(_coverage_line(report["assessment"]["coverage"]["clusters"]), highlight=False)
        return
    if out:
        out.write_text(text)
    else:
        typer.echo(text)


@app.command()
def assess(
    config: Annotated[Path | None, typer.Option(help="inferops.yaml")] = None,
    demo: Annotated[bool, typer.Option(help="Assess the bundled demo fleet (no cluster, no network).")] = False,
    at: Annotated[str | None, typer.Option(help="Window end, ISO time (default: now, or the config's `at`).")] = None,
    output: Annotated[str, typer.Option(help="table|json|csv|markdown")] = "table",
    out: Annotated[Path | None, typer.Option(help="Write the output to this file.")] = None,
    fail_on: Annotated[str | None, typer.Option(help="Exit 3 when a finding at or above this severity exists.")] = None,
) -> None:
    """Run ingest → model → findings → recommendations in-process and print the findings."""
    if output not in {"table", "json", "csv", "markdown"}:
        raise _fail(f"--output {output!r}: expected table, json, csv or markdown")
    if fail_on is not None and fail_on not in SEVERITIES:
        raise _fail(f"--fail-on {fail_on!r}: expected one of {', '.join(SEVERITIES)}")
    scratch = None
    if demo:
        from inferops_pipeline.defs.resources import demo_config_path

        scratch = tempfile.TemporaryDirectory(prefix="inferops-demo-")
        config = demo_config_path(Path(scratch.name) / "fleet")
    elif config is None:
        raise _fail("pass --config FILE or --demo")
    settings = _settings(config)
    end = _window_end(settings, at)
    warehouse = Path(scratch.name) / "warehouse.duckdb" if scratch else settings.warehouse
    assert config is not None
    partition = _run_graph(config, warehouse, end)
    report = _report(warehouse, partition, settings, end)
    _print(report, output, out)
    if scratch:
        scratch.cleanup()
    incomplete = _incomplete(report)
    for line in incomplete:
        err.print(f"[bold red]error:[/] {line}", highlight=False, soft_wrap=True)
    if incomplete:
        raise typer.Exit(EXIT_INCOMPLETE)
    if fail_on and any(SEVERITIES.index(f["severity"]) <= SEVERITIES.index(fail_on) for f in report["findings"]):
        raise typer.Exit(EXIT_FINDINGS)


@app.command()
def findings(
    config: Annotated[Path | None, typer.Option(help="inferops.yaml")] = None,
    since: Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD); default 30 days ago.")] = None,
    type: Annotated[str | None, typer.Option("--type", help="Only this finding type.")] = None,
    output: Annotated[str, typer.Option(help="table|json|csv|markdown")] = "table",
    open_: Annotated[
        bool,
        typer.Option("--open", help="One row per finding still open (findings_latest) instead of every night's rows."),
    ] = False,
) -> None:
    """Findings history from the warehouse (the findings_history / findings_latest views)."""
    settings = _settings_with_warehouse(config)
    try:
        first = date.fromisoformat(since) if since else date.today() - timedelta(days=30)
    except ValueError:
        raise _fail(f"--since {since!r}: not a date (YYYY-MM-DD)") from None
    query = "queries/findings_open_latest" if open_ else "queries/findings_since"
    with _read_warehouse(settings) as wh:
        frame = wh.query(query, since=first, type=type)
    _print_frame(frame, output)


@contextmanager
def _read_warehouse(settings: Settings) -> Iterator[Warehouse]:
    """A read-only warehouse; a warehouse written by an older inferops lacks the views, which deserves one line."""
    import duckdb

    from inferops_pipeline.warehouse import Warehouse, connect

    con = connect(settings.warehouse, read_only=True)
    try:
        yield Warehouse(con)
    except duckdb.CatalogException as exc:
        raise _fail(
            f"{settings.warehouse}: {str(exc).splitlines()[0]} (written by an older inferops? run the pipeline once "
            "to upgrade it)"
        ) from None
    finally:
        con.close()


def _print_frame(frame: pd.DataFrame, output: str) -> None:
    if output == "json":
        typer.echo(frame.to_json(orient="records", date_format="iso", indent=2))
    elif output == "csv":
        typer.echo(frame.to_csv(index=False))
    elif output == "markdown":
        typer.echo(frame.to_markdown(index=False))
    else:
        table = Table()
        for column in frame.columns:
            table.add_column(str(column), overflow="fold")
        for row in frame.itertuples(index=False):
            table.add_row(*(str(v) for v in row))
        Console().print(table)


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="A read-only SQL statement, e.g. 'select * from findings_history'.")],
    config: Annotated[Path | None, typer.Option(help="inferops.yaml")] = None,
    output: Annotated[str, typer.Option(help="table|json|csv|markdown")] = "table",
) -> None:
    """Read-only SQL over the warehouse: tables and the views findings_history, findings_latest, fleet_daily,
    waste_trend, top_offenders, resolved_findings, coverage_gaps."""
    import duckdb

    from inferops_pipeline.warehouse import read_only_query

    settings = _settings_with_warehouse(config)
    try:
        frame = read_only_query(settings.warehouse, statement)
    except duckdb.Error as exc:
        raise _fail(f"sql: {str(exc).splitlines()[0]}") from None
    _print_frame(frame, output)


@app.command()
def report(
    config: Annotated[Path | None, typer.Option(help="inferops.yaml")] = None,
    day: Annotated[
        str | None, typer.Option("--date", help="Assessment date (YYYY-MM-DD); default the latest night.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="File to write; default <warehouse dir>/reports/fleet-DATE.html (as the asset).")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="html|markdown")] = "html",
) -> None:
    """Write the nightly fleet report: the same self-contained HTML (or Markdown) the fleet_report asset writes."""
    from inferops_pipeline.report import render_report, report_path
    from inferops_pipeline.report.load import latest_date, load_report_data

    if format not in {"html", "markdown"}:
        raise _fail(f"--format {format!r}: expected html or markdown")
    settings = _settings_with_warehouse(config)
    try:
        chosen = date.fromisoformat(day) if day else None
    except ValueError:
        raise _fail(f"--date {day!r}: not a date (YYYY-MM-DD)") from None
    with _read_warehouse(settings) as wh:
        chosen = chosen or latest_date(wh)
        if chosen is None:
            raise _fail(f"{settings.warehouse}: no assessment yet (run `inferops assess` or the nightly job first)")
        data = load_report_data(wh, chosen)
    if data.trend.empty or str(data.trend["assessment_date"].iloc[-1])[:10] != chosen.isoformat():
        raise _fail(f"--date {chosen}: no assessment on that date in {settings.warehouse}")
    rendered = render_report(data)
    target = out or report_path(settings.warehouse.parent / "reports", chosen, format)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rendered.html if format == "html" else rendered.markdown)
    t = rendered.totals
    typer.echo(
        f"{target}: {chosen} · waste {_money(t.monthly_waste_usd)}/month · at risk {_money(t.monthly_at_risk_usd)}/month"
        f" · {t.open_findings} open findings ({t.new_findings} new, {t.resolved_findings} resolved)"
    )


@audit_app.command("verify")
def audit_verify(config: Annotated[Path | None, typer.Option(help="inferops.yaml")] = None) -> None:
    """Recompute the audit hash chain and name the first broken row."""
    from inferops_pipeline.audit import verify
    from inferops_pipeline.warehouse import Warehouse, connect

    settings = _settings_with_warehouse(config)
    con = connect(settings.warehouse, read_only=True)
    try:
        checked, broken, reason = verify(Warehouse(con))
    finally:
        con.close()
    if broken is not None:
        err.print(f"[bold red]audit chain broken at seq {broken}:[/] {reason} ({checked} rows)")
        raise typer.Exit(1)
    typer.echo(f"audit chain ok: {checked} rows")


@audit_app.command("export")
def audit_export(
    config: Annotated[Path | None, typer.Option(help="inferops.yaml")] = None,
    out: Annotated[Path | None, typer.Option(help="JSON-lines file to write (default: stdout).")] = None,
    since_seq: Annotated[int, typer.Option(help="Only rows with seq >= this (incremental export).")] = 0,
) -> None:
    """Write the audit log as JSON lines (one row per line, chain order, with prev_hash and hash)."""
    from inferops_pipeline.audit import export
    from inferops_pipeline.warehouse import Warehouse, connect

    settings = _settings_with_warehouse(config)
    con = connect(settings.warehouse, read_only=True)
    try:
        lines = list(export(Warehouse(con), since_seq=since_seq))
    finally:
        con.close()
    text = "".join(f"{line}\n" for line in lines)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        err.print(f"{len(lines)} audit rows → {out}")


@app.command("demo-fleet")
def demo_fleet(
    out: Annotated[Path, typer.Option(help="Directory to write the fleet into.")],
    seed: Annotated[
        int, typer.Option(help="Random seed (the fleet design is fixed; the seed varies noise and names).")
    ] = 7,
    gpus: Annotated[
        int | None,
        typer.Option(
            help="Instead of the demo: a benchmark-sized fleet of this many GPUs (8-GPU nodes, one cluster `bench`): "
            "inventory snapshot + 24 h of 30 s OpenMetrics to backfill; no ground truth or metrics snapshot."
        ),
    ] = None,
) -> None:
    """Write the synthetic fleet: inventory snapshot, metrics snapshot, OpenMetrics for promtool, ground truth."""
    from inferops_pipeline.demo.fleet import DEMO_AT, generate, write_fleet

    if gpus is not None:
        from inferops_pipeline.demo.scale import ScaledFleet, scaled_openmetrics, write_scaled_inventory

        if gpus < 8:
            raise _fail(f"--gpus {gpus}: at least 8 (one 8-GPU node)")
        scaled = ScaledFleet(gpus)
        inventory = write_scaled_inventory(scaled, out / "inventory", end=DEMO_AT, seed=seed)
        files = list(scaled_openmetrics(scaled, out / "openmetrics", end=DEMO_AT, seed=seed))
        typer.echo(f"cluster {scaled.cluster}: {scaled.nodes} nodes, {scaled.gpus} GPUs, {scaled.pods} pods")
        typer.echo(f"  inventory: {inventory}")
        typer.echo(f"  openmetrics: {len(files)} files in {out / 'openmetrics'}; backfill each with")
        typer.echo("    promtool tsdb create-blocks-from openmetrics --max-block-duration=72h FILE TSDB_DIR")
        return
    fleet = generate(seed=seed)
    paths = write_fleet(fleet, out)
    typer.echo(
        f"{len(fleet.inventory)} clusters, {fleet.nodes} nodes, {fleet.gpus} GPUs, {fleet.workloads} workloads, {len(fleet.ground_truth['problems'])} injected problems"
    )
    for name, path in paths.items():
        typer.echo(f"  {name}: {path}")


@app.command("snapshot-metrics")
def snapshot_metrics(
    config: Annotated[Path, typer.Option(help="inferops.yaml whose clusters' Prometheus endpoints are read.")],
    out: Annotated[Path, typer.Option(help="Metrics snapshot (parquet) to write.")],
    at: Annotated[str | None, typer.Option(help="Window end, ISO time (default: now, or the config's `at`).")] = None,
) -> None:
    """Capture every cluster's window metrics once, to assess offline later (prometheus: {snapshot: FILE})."""
    from inferops_pipeline.defs.resources import cluster_metrics_source
    from inferops_pipeline.sources.prometheus import write_metrics_snapshot

    settings = _settings(config)
    end = _window_end(settings, at)
    start = end - settings.window_delta
    frames, failed = [], []
    for cluster in settings.clusters:
        try:
            fetched = cluster_metrics_source(cluster.prometheus).fetch(cluster=cluster.name, start=start, end=end)
        except ConfigError as exc:
            raise _fail(f"cluster {cluster.name}: {exc}") from None
        frames.append(fetched.frame)
        seconds = sum(q.duration_s for q in fetched.queries)
        if fetched.error:
            failed.append(cluster.name)
            err.print(f"[bold red]error:[/] cluster {cluster.name}: {fetched.error}", highlight=False, soft_wrap=True)
            continue
        degraded = [f"{r.part} {r.status}" for r in fetched.coverage if r.status not in ("ok", "absent")]
        typer.echo(
            f"{cluster.name}: {len(fetched.frame)} rows, {len(fetched.queries)} queries in {seconds:.2f} s"
            + (f" ({', '.join(degraded)})" if degraded else ""),
            err=True,
        )
    write_metrics_snapshot(pd.concat(frames, ignore_index=True), out)
    typer.echo(f"{out}: window {settings.window} ending {end.isoformat()}")
    if failed:
        raise typer.Exit(EXIT_INCOMPLETE)


if __name__ == "__main__":
    app()
