"""Quality gate: a Great Expectations checkpoint over the curated/indicators rows of one partition.

pandera (schemas/curated.py) owns every row-level rule; this module owns the table-level and
statistical expectations and the human-readable report (GX Data Docs).

- The expectation suite is kept in the repository: gx/expectations/curated_indicators.json. Values known
  only at run time (row-count bounds from the previously published partition, the distinct-indicator
  minimum) are suite parameters ({"$PARAMETER": name}) filled in by `check_curated`.
- Per-indicator median drift is checked with one `expect_column_median_to_be_between` per indicator
  present both now and in the previous partition, generated at run time from the template in the
  suite's meta.warehouse.median_by_indicator, each with a `row_condition` (GX Condition
  Column("indicator") == code; the pandas string parser is deprecated since GX 1.9). They run in the
  same batch, so they appear on the same Data Docs page as the static expectations.
- Severity uses GX's native `severity` field (critical / warning); `QualityResult.success` is False only
  when a critical expectation failed. GX calls any failed expectation a failed validation, so its
  "Status" would say Failed for a warning-only run that was published: the index shows the audit's own
  word instead (an "Audit" column: published / flagged / failed, as in the run ledger and the Prefect
  state) and each validation page an audit summary listing the failure lines.
- Data Docs are built into <root>/quality/ by an ephemeral context whose validation results persist in
  <root>/quality/gx/validations, so the index lists the INDEX_LIMIT most recent runs of all partitions
  (the suite page shows the suite as last run, with that run's generated median checks). The pages are
  then made to work offline: GX loads bootstrap, jQuery, bootstrap-table, font-awesome and vega from
  CDNs and a tracking logo from S3, and none of those ships in an installed pip package. So every
  external reference (script, link, img, url(), @import, anchors) is stripped, the bootstrap-table
  tables that JavaScript would have filled are rendered as static HTML tables, all scripts and inline
  handlers are dropped, a small inline stylesheet keeps the pages readable, and a
  Content-Security-Policy meta tag forbids any load the sanitizer could have missed.

This is the only module of the package that imports great_expectations (about 2-4 s); it does so inside
functions, and nothing imports this module at import time.
"""

from __future__ import annotations

import ast
import html
import json
import math
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from warehouse import storage

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

SUITE_DIR = Path(__file__).resolve().parents[1] / "gx" / "expectations"
SUITE_NAME = "curated_indicators"
SITE_NAME = "warehouse_quality"
DATASOURCE_NAME = "warehouse"
# The Data Docs index lists this many most recent validation results (GX re-reads every listed result on
# each build, so an unbounded index makes each run slower); older pages stay on disk.
INDEX_LIMIT = 200

# Columns the suite reads; only these are handed to GX (the others cost conversion time for nothing).
COLUMNS = ("indicator", "value", "region_code", "evidence", "year", "published_date", "approximate")

_CODE = re.compile(r"^[A-Za-z0-9_]+$")
# get_context() installs the new context as GX's process-wide current project, so two checks running in
# threads (e.g. Prefect's thread pool task runner) must not interleave.
_GX_LOCK = threading.Lock()


@dataclass
class QualityResult:
    success: bool  # True when no *critical* expectation failed
    failures: list[str] = field(default_factory=list)  # one line per failed expectation, critical and warning
    blocking: list[str] = field(default_factory=list)  # the failures of critical expectations
    evaluated: int = 0  # number of expectations evaluated
    docs_index: Path = Path()  # the offline Data Docs index.html

    def as_dict(self) -> dict:
        return {
            "success": self.success,
            "failures": list(self.failures),
            "blocking": list(self.blocking),
            "evaluated": self.evaluated,
            "docs_index": str(self.docs_index),
        }


def check_curated(
    facts: pl.DataFrame,
    previous: pl.DataFrame | None,
    *,
    root: Path,
    arrival_date: date,
    run_id: str,
    blocked_by: list[str] | None = None,
    docs: bool = True,
) -> QualityResult:
    """Run the checkpoint on `facts` (the curated/indicators rows about to be published for one
    arrival-date partition; columns as in schemas/curated.py CuratedIndicator) against `previous` (the
    rows currently published for that partition, or None on the first run). Build Data Docs under
    <root>/quality/ and make them offline; `blocked_by` are the audit's other blocking failures, so the
    page's word (published, flagged, failed) is the audit's. With `docs` off the validation is stored and
    its audit words remembered, and `build_docs` makes the pages later, once for a whole run or backfill
    (building them per partition re-reads every earlier page: quadratic). Never raises on failed
    expectations (returns them); raises only on misuse (wrong argument types, missing columns, an
    unreadable suite file)."""
    _check_arguments(facts, previous, arrival_date, run_id)
    definition = load_suite_definition()
    settings = definition.get("meta", {}).get("warehouse", {})
    params = _suite_parameters(facts, previous, settings)
    medians = _median_bounds(facts, previous, settings)

    quality_dir = Path(root).resolve() / "quality"
    quality_dir.mkdir(parents=True, exist_ok=True)
    with _GX_LOCK:
        outcomes, page = _run_checkpoint(
            facts, quality_dir, definition, medians, params, arrival_date, run_id, docs
        )
        failures: list[str] = []
        blocking: list[str] = []
        for outcome in outcomes:
            if outcome.success:
                continue
            severity = _severity(outcome.expectation_config)
            line = f"{severity} {outcome.expectation_config.type}: {_describe(outcome, params, previous)}"
            failures.append(line)
            if severity == "critical":
                blocking.append(line)
        others = list(blocked_by or [])
        if not docs:
            _remember_gate(quality_dir, run_id, not (blocking or others), others + failures, arrival_date)
        else:
            if page is not None and page.exists():
                _add_gate_summary(page, not (blocking or others), others + failures, arrival_date)
            make_docs_offline(quality_dir)
    return QualityResult(
        success=not blocking,
        failures=failures,
        blocking=blocking,
        evaluated=len(outcomes),
        docs_index=quality_dir / "index.html",
    )


def _run_checkpoint(
    facts: pl.DataFrame,
    quality_dir: Path,
    definition: dict[str, Any],
    medians: list[dict[str, Any]],
    params: dict[str, Any],
    arrival_date: date,
    run_id: str,
    docs: bool = True,
) -> tuple[list[Any], Path | None]:
    """Validate `facts` with the suite and update the Data Docs site; the expectation outcomes and the
    path of this run's validation page."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = _context(quality_dir)
    suite = context.suites.add(_suite(definition, medians))
    asset = context.data_sources.add_pandas(DATASOURCE_NAME).add_dataframe_asset(
        f"indicators_{arrival_date.isoformat()}"
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(
            name=SUITE_NAME, data=asset.add_batch_definition_whole_dataframe("partition"), suite=suite
        )
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=SUITE_NAME,
            validation_definitions=[validation],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[SITE_NAME])]
            if docs
            else [],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
        )
    )
    result = checkpoint.run(
        batch_parameters={"dataframe": facts.select(COLUMNS).to_pandas()},
        expectation_parameters=params,
        run_id=RunIdentifier(run_name=_safe_name(run_id), run_time=datetime.now(UTC)),
    )
    outcomes: list[Any] = []
    page = None
    for key, suite_result in result.run_results.items():
        outcomes.extend(suite_result.results)
        page = _page_path(context, key) if docs else None
    return outcomes, page


GATES = Path("gx") / "gates"  # under <quality>: the audit words of validations whose pages are not built yet


def _remember_gate(
    quality_dir: Path, run_id: str, passed: bool, failures: list[str], arrival_date: date
) -> None:
    record = {
        "run_id": run_id,
        "passed": passed,
        "failures": failures,
        "arrival_date": arrival_date.isoformat(),
    }
    path = quality_dir / GATES / f"{_safe_name(run_id)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    storage.write_text_atomically(path, json.dumps(record, ensure_ascii=False))


def build_docs(root: Path) -> Path:
    """Build the Data Docs pages of the validations not built yet (those checked with `docs` off: their
    audit words wait under GATES), each with its audit summary, and the index (the latest INDEX_LIMIT);
    pages built before are kept as they are. Every page is made offline. With no index yet every stored
    validation is built. Returns the index.

    GX rebuilds every stored validation's page when it is not told which: a run's docs took 0.3 s on a
    fresh root and 2.8 s once the root held 100 validations (at 1,000 partitions, ~30 s a run)."""
    quality_dir = Path(root).resolve() / "quality"
    quality_dir.mkdir(parents=True, exist_ok=True)
    index = quality_dir / "index.html"
    with _GX_LOCK:
        gates = [
            (p, json.loads(p.read_text(encoding="utf-8")))
            for p in sorted((quality_dir / GATES).glob("*.json"))
        ]
        context = _context(quality_dir)
        if not index.exists():
            context.build_data_docs(site_names=[SITE_NAME])
        elif gates:
            context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=_keys_of(context, gates))
        for path, gate in gates:
            pages = quality_dir / "validations" / SUITE_NAME / _safe_name(gate["run_id"])
            for page in pages.rglob("*.html"):
                day = date.fromisoformat(gate["arrival_date"])
                _add_gate_summary(page, gate["passed"], gate["failures"], day)
            path.unlink()
        make_docs_offline(quality_dir)
    return index


def _keys_of(context: Any, gates: list[tuple[Path, dict[str, Any]]]) -> list[Any]:
    """The stored validation results of the gates' runs (never empty: given no identifier, GX builds
    every page, so a gate whose result is missing builds the index alone, through the suite's key)."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    runs = {_safe_name(gate["run_id"]) for _, gate in gates}
    keys = [k for k in context.validation_results_store.list_keys() if k.run_id.run_name in runs]
    return keys or [ExpectationSuiteIdentifier(name=SUITE_NAME)]


# --- suite and parameters -------------------------------------------------------------------------


def load_suite_definition() -> dict[str, Any]:
    """The suite JSON kept in the repository (GX 1.x ExpectationSuite JSON)."""
    path = SUITE_DIR / f"{SUITE_NAME}.json"
    definition = json.loads(path.read_text(encoding="utf-8"))
    if definition.get("name") != SUITE_NAME or not isinstance(definition.get("expectations"), list):
        raise ValueError(f"{path}: not the {SUITE_NAME} expectation suite")
    return definition


def _suite(definition: dict[str, Any], medians: list[dict[str, Any]]) -> Any:
    import great_expectations as gx

    median_rule = definition.get("meta", {}).get("warehouse", {}).get("median_by_indicator", {})
    expectations = [dict(e) for e in definition["expectations"]]
    for m in medians:
        expectations.append(
            {
                "type": "expect_column_median_to_be_between",
                "kwargs": {
                    "column": "value",
                    # GX's Condition Column("indicator") == code in its JSON form: the string form
                    # with condition_parser="pandas" is deprecated since GX 1.9.
                    "row_condition": {
                        "type": "comparison",
                        "column": {"name": "indicator"},
                        "operator": "==",
                        "parameter": m["indicator"],
                    },
                    "min_value": m["min"],
                    "max_value": m["max"],
                },
                "severity": median_rule.get("severity", "warning"),
                "notes": (
                    f"Median value of {m['indicator']} within a factor of {m['factor']:g} of the "
                    f"previously published median ({_num(m['previous'])})."
                ),
                "meta": {
                    "check": "median_by_indicator",
                    "indicator": m["indicator"],
                    "previous_median": m["previous"],
                },
            }
        )
    suite = gx.ExpectationSuite(
        name=definition["name"],
        expectations=expectations,
        meta=dict(definition.get("meta") or {}),
        notes=definition.get("notes"),
    )
    if len(suite.expectations) != len(expectations):  # GX logs and drops invalid configurations
        raise ValueError(f"{SUITE_DIR / (SUITE_NAME + '.json')}: some expectations are not valid GX 1.x")
    return suite


def _suite_parameters(
    facts: pl.DataFrame, previous: pl.DataFrame | None, settings: dict[str, Any]
) -> dict[str, Any]:
    ratios = settings.get("row_count", {})
    previous_rows = previous.height if previous is not None else None
    min_rows = 0
    max_rows: int | None = None
    if previous_rows:
        min_rows = math.ceil(previous_rows * float(ratios.get("min_ratio_of_previous", 0.5)))
        max_rows = math.floor(previous_rows * float(ratios.get("max_ratio_of_previous", 3.0)))
    return {
        "min_rows": min_rows,
        "max_rows": max_rows,
        "min_indicators": 1 if facts.height > 0 else 0,
    }


def _median_bounds(
    facts: pl.DataFrame, previous: pl.DataFrame | None, settings: dict[str, Any]
) -> list[dict[str, Any]]:
    if previous is None or previous.is_empty() or facts.is_empty():
        return []
    factor = float(settings.get("median_by_indicator", {}).get("factor", 10.0))
    now = facts.group_by("indicator").agg(pl.col("value").median().alias("now"))
    before = previous.group_by("indicator").agg(pl.col("value").median().alias("previous"))
    both = now.join(before, on="indicator", how="inner").drop_nulls().sort("indicator")
    bounds = []
    for code, prev in both.select("indicator", "previous").iter_rows():
        if not _CODE.match(code):  # catalog codes only; anything else is pandera's to reject
            continue
        bounds.append(
            {
                "indicator": code,
                "previous": prev,
                "factor": factor,
                "min": float(f"{prev / factor:.6g}"),
                "max": float(f"{prev * factor:.6g}"),
            }
        )
    return bounds


def _check_arguments(facts: Any, previous: Any, arrival_date: Any, run_id: Any) -> None:
    if not isinstance(facts, pl.DataFrame):
        raise TypeError(f"facts must be a polars DataFrame, not {type(facts).__name__}")
    if previous is not None and not isinstance(previous, pl.DataFrame):
        raise TypeError(f"previous must be a polars DataFrame or None, not {type(previous).__name__}")
    missing = [c for c in COLUMNS if c not in facts.columns]
    if missing:
        raise ValueError(f"facts lacks columns {missing}")
    if previous is not None:
        missing = [c for c in ("indicator", "value") if c not in previous.columns]
        if missing:
            raise ValueError(f"previous lacks columns {missing}")
    for name, frame in (("facts", facts), ("previous", previous)):
        if frame is not None and not frame.schema["value"].is_numeric():
            raise TypeError(f"{name}.value must be numeric, not {frame.schema['value']}")
    if not isinstance(arrival_date, date):
        raise TypeError("arrival_date must be a date")
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError("run_id must be a non-empty string")


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip())[:100]


# --- GX context --------------------------------------------------------------------------------------


def _context(quality_dir: Path) -> Any:
    """An ephemeral context whose validation results persist under <quality>/gx/validations and whose
    only Data Docs site is <quality>/ itself."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults()
    stores = dict(defaults.stores)
    stores[defaults.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(quality_dir / "gx" / "validations"),
        },
    }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        stores=stores,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(quality_dir),
                },
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "show_cta_footer": False,
                    "validation_results_limit": INDEX_LIMIT,
                },
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _page_path(context: Any, key: Any) -> Path | None:
    for site in context.get_docs_sites_urls(resource_identifier=key, site_name=SITE_NAME):
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            return Path(url[len("file://") :])
    return None


# --- failure lines -----------------------------------------------------------------------------------


def _severity(config: Any) -> str:
    severity = getattr(config, "severity", None) or (config.meta or {}).get("severity") or "critical"
    return str(getattr(severity, "value", severity))


def _param(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return params.get(value["$PARAMETER"])
    return value


def _num(x: Any) -> str:
    if x is None:
        return "none"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int | float) or hasattr(x, "__float__"):
        f = float(x)
        if not math.isfinite(f):
            return str(f)
        return str(round(f)) if f.is_integer() or abs(f) >= 1000 else f"{f:.4g}"
    return str(x)


def _describe(outcome: Any, params: dict[str, Any], previous: pl.DataFrame | None = None) -> str:
    config = outcome.expectation_config
    kwargs = config.kwargs
    meta = config.meta or {}
    res = outcome.result or {}
    error = _exception_message(outcome.exception_info)
    if error:
        return f"{kwargs.get('column', 'table')}: could not be evaluated ({error})"

    check = meta.get("check")
    lo = _param(kwargs.get("min_value"), params)
    hi = _param(kwargs.get("max_value"), params)
    observed = res.get("observed_value")
    previous_rows = previous.height if previous is not None else None
    if config.type == "expect_table_row_count_to_be_between":
        bound = f"expected >= {_num(lo)}" if check == "row_count_drop" or hi is None else ""
        if check == "row_count_growth" or (hi is not None and observed is not None and observed > hi):
            bound = f"expected <= {_num(hi)}"
        prev = f" (previous {_num(previous_rows)})" if previous_rows is not None else ""
        return f"{_num(observed)} rows, {bound}{prev}"
    if check == "median_by_indicator":
        return (
            f"median value of {meta.get('indicator')}: {_num(observed)}, expected between {_num(lo)} and "
            f"{_num(hi)} (previous median {_num(meta.get('previous_median'))})"
        )
    column = kwargs.get("column")
    mostly = kwargs.get("mostly")
    pct = res.get("unexpected_percent")
    allowed = f"at most {_num(round((1 - mostly) * 100, 2))}%" if mostly is not None else "none"
    if config.type == "expect_column_values_to_not_be_null":
        return (
            f"{column}: {_num(res.get('unexpected_count'))} of {_num(res.get('element_count'))} null "
            f"({_pct(pct)}), expected {allowed} null"
        )
    if check == "approximate_share":
        return f"{column}: {_pct(pct)} of rows are approximate, expected {allowed}"
    if config.type == "expect_column_values_to_be_in_set":
        return f"{column}: {_pct(pct)} of values not in {kwargs.get('value_set')}, expected {allowed}"
    if config.type == "expect_column_unique_value_count_to_be_between":
        return f"{column}: {_num(observed)} distinct values, expected >= {_num(lo)}"
    where = f"{column}: " if column else ""
    shown = observed if observed is not None else (f"{_pct(pct)} unexpected" if pct is not None else "?")
    return f"{where}observed {_num(shown)}, expected between {_num(lo)} and {_num(hi)}"


def _pct(p: Any) -> str:
    return "?%" if p is None else f"{float(p):.1f}%"


def _exception_message(info: Any) -> str | None:
    if not info:
        return None
    if isinstance(info, dict) and "raised_exception" in info:
        return str(info.get("exception_message") or "error") if info.get("raised_exception") else None
    if isinstance(info, dict):  # keyed by metric
        for sub in info.values():
            message = _exception_message(getattr(sub, "to_json_dict", lambda s=sub: s)())
            if message:
                return message
    return None


# --- offline Data Docs -------------------------------------------------------------------------------

_MARKER = "warehouse-offline"
_EXT = r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?//"  # http://, https://, any other scheme://, protocol-relative //
_EXT_ATTR = re.compile(
    r"""\s(?:href|src|srcset|action|formaction|poster|background|data|xlink:href|cite|longdesc|manifest|ping)"""
    rf"""\s*=\s*(?:"\s*{_EXT}[^"]*"|'\s*{_EXT}[^']*'|{_EXT}[^\s>]*)""",
    re.I,
)
_EXT_LINK = re.compile(rf"""<link\b[^>]*\bhref\s*=\s*["']?\s*{_EXT}[^>]*>""", re.I)
_EXT_IMG = re.compile(rf"""<img\b[^>]*\bsrc\s*=\s*["']?\s*{_EXT}[^>]*>""", re.I)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
_CSS_URL = re.compile(rf"""url\(\s*["']?\s*{_EXT}[^)]*\)""", re.I)
_CSS_IMPORT = re.compile(rf"""@import\s+(?:url\()?\s*["']?\s*{_EXT}[^;]*;""", re.I)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>|<script\b[^>]*/>", re.I | re.S)
_FOOTER = re.compile(r"<footer\b[^>]*>.*?</footer\s*>", re.I | re.S)
_TAG = re.compile(r"<[A-Za-z][^<>]*>")
_EVENT_ATTR = re.compile(r"""\son[a-z]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.I)
_STATIC_REF = re.compile(r"""((?:href|src)\s*=\s*["'])(?:\./|(?:\.\./)+)static/""", re.I)
_GATE = re.compile(r'class="warehouse-gate (published|flagged|failed|passed|blocked)"')
_OLD_GATE_WORDS = {"passed": "published", "blocked": "failed"}  # pages written before the audit's words
_SCHEME_TEXT = re.compile(r"\b(?:https?|ftp|wss?)://", re.I)
_BARE_PROTO_REL = re.compile(r"""((?:src|href)\s*=\s*["']?)//""", re.I)
_BOOTSTRAP_TABLE = re.compile(
    r"<script>\s*\$\('#(?P<id>[\w-]+)'\)\.bootstrapTable\(\s*Object\.assign\(\s*\{\s*"
    r"columns: (?P<columns>[^\n]*),\n\s*data: (?P<data>[^\n]*),\n\s*toolbar: [^\n]*\n\s*\},\s*"
    r"(?P<options>[^\n]*)\n.*?</script\s*>",
    re.S,
)

# The policy a page carries: nothing may be fetched but local files; no scripts at all.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline' 'self' file:; img-src 'self' file: data:; "
    "font-src 'self' file: data:"
)
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC",sans-serif;font-size:15px;
 line-height:1.45;color:#212529;background:#fff;margin:0}
a{color:#0b5cad}
nav.navbar{display:block;height:auto!important;padding:.6rem 1.25rem;border-bottom:1px solid #dee2e6}
.gx-offline-img{font-weight:600;font-size:1.2rem}
.container-fluid{padding:1rem 1.25rem}
.row{display:flex;flex-wrap:wrap;margin:0}
.col-lg-2,.col-md-2{flex:0 0 17%;max-width:17%;box-sizing:border-box;padding-right:1rem}
.col-lg-10,.col-md-10{flex:1 1 0;min-width:0;box-sizing:border-box}
.col-12{flex:0 0 100%;max-width:100%}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%}
th,td{border:1px solid #dee2e6;padding:.3rem .5rem;vertical-align:top;text-align:left}
thead th,.gx-static-table th{background:#f1f3f5}
.alert{padding:.6rem 1rem;border:1px solid #d6d8db;background:#f4f5f6;border-radius:4px;margin:0 0 1rem}
.card{border:1px solid #dee2e6;border-radius:4px;padding:.6rem 1rem;margin-bottom:1rem}
.text-danger{color:#b02a37}.text-success{color:#146c43}.text-warning{color:#997404}
.fas,.far,.fa{font-style:normal}
.fa-check-circle::before,.fa-check::before{content:"\\2714 "}
.fa-times::before,.fa-times-circle::before{content:"\\2716 "}
.fa-exclamation-triangle::before{content:"\\26A0 "}
.fa-question-circle::before{content:"?"}
.modal,.invisible,.btn-group-toggle,.navbar-toggler,[id$="-table-toolbar"],.card:has(.btn-group-toggle){display:none!important}
.collapse:not(.show),.tab-pane,.fade:not(.show){display:block;opacity:1}
.nav-tabs{list-style:none;display:flex;gap:1.5rem;padding:0;margin:0 0 .5rem;font-weight:600}
.sticky{position:static!important}
.badge{display:inline-block;padding:0 .4em;border-radius:3px;background:#e9ecef;font-size:85%}
div[style="color:red;"]{color:#495057!important}
.warehouse-gate{margin:1rem 1.25rem;padding:.7rem 1rem;border-radius:4px;border:1px solid}
.warehouse-gate.published{background:#e8f5ec;border-color:#9fd3b0}
.warehouse-gate.flagged{background:#fff6dc;border-color:#e6c96b}
.warehouse-gate.failed{background:#fbe9eb;border-color:#eaa4ab}
.warehouse-gate ul{margin:.4rem 0 0}
"""
_HEAD = (
    f'<meta name="{_MARKER}" content="external resources removed by warehouse.quality">\n'
    f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
    f'<style id="{_MARKER}">{_STYLE}</style>\n'
)


def make_docs_offline(directory: Path) -> int:
    """Make every Data Docs HTML page (and stylesheet) under `directory` self-contained. Pages already
    processed (they carry the marker right after <head>) are skipped; returns how many files changed."""
    directory = Path(directory)
    changed = 0
    for path in sorted(directory.rglob("*.html")):
        with path.open("rb") as f:
            if _MARKER.encode() in f.read(2048):
                continue
        text = path.read_text(encoding="utf-8")
        new = offline_html(text, page=path, site_root=directory)
        if new != text:
            storage.write_text_atomically(path, new)
            changed += 1
    for path in sorted(directory.rglob("*.css")):
        text = path.read_text(encoding="utf-8")
        new = _offline_css(text)
        if new != text:
            storage.write_text_atomically(path, new)
            changed += 1
    return changed


def offline_html(text: str, *, page: Path | None = None, site_root: Path | None = None) -> str:
    """One page without any reference that would leave the machine and without scripts. Given the
    page's path and the site root, links to the site's static/ files are also made to resolve (GX writes
    them one level short on validation pages) and the index gets a gate column read from the pages."""
    gate = None
    if page is not None and site_root is not None:
        base = page.parent
        up = Path(os.path.relpath(site_root, base)).as_posix()
        text = _STATIC_REF.sub(lambda m: f"{m.group(1)}{up}/static/", text)
        gate = _gate_reader(base)
    text = _static_tables(text, gate)
    text = _SCRIPT.sub("", text)
    text = _FOOTER.sub("", text)
    text = _EXT_LINK.sub("", text)
    text = _EXT_IMG.sub(_img_to_text, text)
    text = _TAG.sub(_clean_tag, text)
    text = _offline_css(text)
    if _MARKER not in text:
        text, n = re.subn(r"(<head\b[^>]*>)", lambda m: m.group(1) + "\n" + _HEAD, text, count=1, flags=re.I)
        if not n:
            text = _HEAD + text
    return text


def _clean_tag(m: re.Match[str]) -> str:
    tag = _EXT_ATTR.sub("", m.group(0))
    tag = _EVENT_ATTR.sub("", tag)
    return _BARE_PROTO_REL.sub(r"\1#", tag)


def _gate_reader(base: Path) -> Callable[[str], str | None]:
    def gate(link: str) -> str | None:
        target = (base / link).resolve()
        try:
            with target.open("rb") as f:
                head = f.read(65536).decode("utf-8", "replace")
        except OSError:
            return None
        found = _GATE.search(head)
        return _OLD_GATE_WORDS.get(found.group(1), found.group(1)) if found else None

    return gate


def _offline_css(text: str) -> str:
    text = _CSS_IMPORT.sub("", text)
    text = _CSS_URL.sub("none", text)
    return _SCHEME_TEXT.sub("", text)


def _img_to_text(m: re.Match[str]) -> str:
    alt = _ALT.search(m.group(0))
    label = (alt.group(1) or alt.group(2)) if alt else ""
    return f'<span class="gx-offline-img">{label}</span>' if label else ""


# bootstrap-table: GX emits an empty <table id=...> and a script that fills it from a Python-repr literal.
def _static_tables(text: str, gate: Callable[[str], str | None] | None = None) -> str:
    rendered: dict[str, str] = {}

    def collect(m: re.Match[str]) -> str:
        table_id = m.group("id")
        try:
            columns = ast.literal_eval(m.group("columns"))
            data = ast.literal_eval(m.group("data"))
            options = ast.literal_eval(m.group("options"))
            rendered[table_id] = _static_table(table_id, columns, data, options, gate)
        except (ValueError, SyntaxError, TypeError, KeyError, AttributeError):
            links = re.findall(r"'_table_row_link_path': '([^']*)'", m.group("data"))
            items = "".join(
                f'<li><a href="{html.escape(x, quote=True)}">{html.escape(x)}</a></li>' for x in links
            )
            rendered[table_id] = f'<ul id="{table_id}" class="gx-static-list">{items}</ul>'
        return ""

    text = _BOOTSTRAP_TABLE.sub(collect, text)
    for table_id, table in rendered.items():
        pattern = re.compile(rf'<table\s+id="{re.escape(table_id)}"[^>]*>\s*</table>', re.S)
        found = pattern.search(text)
        if found:
            text = text[: found.start()] + table + text[found.end() :]
        else:
            text = text.replace("</body>", table + "</body>", 1)
    return text


def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, int | float):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def _static_table(
    table_id: str,
    columns: list[dict],
    data: list[dict],
    options: dict,
    gate: Callable[[str], str | None] | None = None,
) -> str:
    cols = [c for c in columns if str(c.get("visible", "true")).lower() != "false"]
    sort_name = options.get("sortName")
    if sort_name:
        key = next((c.get("sortName", c["field"]) for c in cols if c["field"] == sort_name), sort_name)
        descending = str(options.get("sortOrder", "asc")).lower() == "desc"
        data = sorted(data, key=lambda row: _sort_key(row.get(key)), reverse=descending)
    if gate is not None and any(c["field"] == "validation_success" for c in cols):
        at = next(i for i, c in enumerate(cols) if c["field"] == "validation_success")
        cols[at] = {"field": "_warehouse_gate", "title": "Audit"}  # the audit's word, not GX's Failed
        for row in data:
            link = row.get("_table_row_link_path")
            row["_warehouse_gate"] = gate(str(link)) if link else None
    head = "".join(f"<th>{html.escape(str(c.get('title', c['field'])))}</th>" for c in cols)
    rows = []
    for row in data:
        link = row.get("_table_row_link_path")
        cells = []
        for c in cols:
            value = row.get(c["field"])
            cell = "" if value is None else str(value)
            if c["field"] == "validation_success" and row.get("_validation_success_text"):
                cell += f" {html.escape(str(row['_validation_success_text']))}"
            if link and "<a " not in cell:
                cell = f'<a href="{html.escape(str(link), quote=True)}">{cell}</a>'
            cells.append(f"<td>{cell}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{max(len(cols), 1)}">none yet</td></tr>')
    return (
        f'<table id="{table_id}" class="table table-sm gx-static-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _add_gate_summary(page: Path, passed: bool, failures: list[str], arrival_date: date) -> None:
    text = page.read_text(encoding="utf-8")
    if "warehouse-gate" in text.split("</head>", 1)[-1]:
        return
    status = "failed" if not passed else "flagged" if failures else "published"
    head = (
        f"Audit of arrival date {arrival_date.isoformat()}: <strong>{status}</strong> "
        f"({len(failures)} failed expectation{'s' if len(failures) != 1 else ''}; only critical ones block "
        "publishing, warnings flag it)"
    )
    items = "".join(f"<li>{html.escape(line)}</li>" for line in failures)
    block = f'<div class="warehouse-gate {status}">{head}{f"<ul>{items}</ul>" if items else ""}</div>'
    new, n = re.subn(r"(<body\b[^>]*>)", lambda m: m.group(1) + block, text, count=1, flags=re.I)
    if n:
        storage.write_text_atomically(page, new)
