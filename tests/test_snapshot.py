"""The consumer snapshot: indicator panel, dimensions, manifest, read API and SQL, on the bundled sample."""

import shutil
from datetime import date

import polars as pl
import pytest

from schemas.snapshot import CuratedPanel
from warehouse import read, snapshot, sql, storage
from warehouse.regions import gazetteer


def test_panel_has_one_row_per_key_and_its_fact_ids_exist(sample_run, sample_facts):
    panel = read.panel(sample_run).collect()
    assert panel.height > 0
    assert panel.select("region_code", "year", "indicator").is_duplicated().sum() == 0
    known = set(sample_facts["fact_id"])
    assert set(panel["fact_ids"].explode()) <= known and set(panel["chosen_fact_id"]) <= known
    assert panel["year"].null_count() == 0
    dated = sample_facts.filter(pl.col("year").is_not_null())
    assert panel["fact_ids"].list.len().sum() == dated.height  # every dated fact is behind exactly one row


def fact(
    fact_id,
    value,
    published,
    doc_id="a" * 64,
    approximate=False,
    region="510600",
    name="德阳市",
    role="value",
):
    return {
        "fact_id": fact_id,
        "doc_id": doc_id,
        "indicator": "bridging_funds",
        "value": value,
        "unit": "CNY",
        "region_code": region,
        "region_name": name,
        "region_level": gazetteer()[region].level,
        "year": 2022,
        "published_date": published,
        "approximate": approximate,
        "role": role,
    }


def test_panel_choice_and_conflicts():
    docs = pl.DataFrame({"doc_id": ["a" * 64, "b" * 64], "region_code": ["510600", "510000"]})
    facts = pl.DataFrame(
        [
            fact("f1", 1.0e8, date(2023, 1, 5), "a" * 64),
            fact("f2", 1.2e8, date(2023, 3, 1), "b" * 64),  # later, from the province's report
            fact("f3", 9.0e8, date(2023, 6, 1), "b" * 64, approximate=True),  # latest but approximate
        ]
    )
    (row,) = snapshot.build_panel(facts, docs).to_dicts()
    assert row["chosen_fact_id"] == "f2" and row["value"] == 1.2e8 and row["sources"] == 2
    assert sorted(row["fact_ids"]) == ["f1", "f2", "f3"]
    # another source's exact value disagrees; the approximate one does not contradict an exact choice
    assert row["conflicting_values"] == [1.0e8] and row["conflicting_fact_ids"] == ["f1"]
    assert row["rule"].startswith("exact; published 2023-03-01; a parent region's report")
    same_day = pl.DataFrame(
        [fact("f1", 1.0e8, date(2023, 3, 1), "a" * 64), fact("f2", 1.2e8, date(2023, 3, 1), "b" * 64)]
    )
    (row,) = snapshot.build_panel(same_day, docs).to_dicts()
    assert row["chosen_fact_id"] == "f1" and "the region's own report" in row["rule"]
    CuratedPanel.validate(snapshot.build_panel(facts, docs).with_columns(chosen_doc_id=pl.lit("a" * 64)))


@pytest.mark.parametrize(
    ("roles", "chosen", "conflicts"),
    [
        (["value", "part", "part"], "t", []),  # a total and its parts (其中…): no conflict
        (["change_start", "value", "value"], "p1", [9.0e7]),  # 由A到B: A gives way; two values still disagree
        (["part", "part", "part"], "t", []),  # only parts: the largest is shown, nothing conflicts
    ],
)
def test_parts_range_ends_and_change_starts_are_not_conflicts(roles, chosen, conflicts):
    docs = pl.DataFrame({"doc_id": ["a" * 64], "region_code": ["510600"]})
    values = [("t", 3.0e8), ("p1", 2.0e8), ("p2", 9.0e7)]
    facts = pl.DataFrame(
        [fact(f, v, date(2023, 1, 5), role=r) for (f, v), r in zip(values, roles, strict=True)]
    )
    (row,) = snapshot.build_panel(facts, docs).to_dicts()
    assert row["chosen_fact_id"] == chosen and row["conflicting_values"] == conflicts
    assert row["rule"].startswith("parts only") is (roles == ["part", "part", "part"])


def test_dimensions(sample_run):
    regions = read.regions_table(sample_run).collect()
    (zhongjiang,) = regions.filter(pl.col("region_name") == "中江县").to_dicts()
    assert (zhongjiang["city_code"], zhongjiang["province_code"]) == ("510600", "510000")
    documents = read.documents(sample_run).collect()
    assert documents.height == 5 and documents["facts"].sum() == read.indicators(sample_run).collect().height


def test_read_filters_region_descendants_indicators_and_years(sample_run):
    sichuan = read.indicators(sample_run, region="四川省").collect()
    assert sichuan.height > 0 and set(sichuan["region_code"].str.slice(0, 2)) == {"51"}
    assert read.indicators(sample_run, region="510000").collect().height == sichuan.height
    narrowed = read.panel(
        sample_run, region="德阳市", indicators=["first_secretaries"], years=(2021, 2021)
    ).collect()
    assert set(narrowed["indicator"]) == {"first_secretaries"} and set(narrowed["year"]) == {2021}
    with pytest.raises(ValueError, match="unknown region"):
        read.panel(sample_run, region="不存在市")


def test_read_works_on_an_fsspec_url(sample_run):
    url = sample_run.resolve().as_uri()  # file:///…: the same code path as s3://
    assert read.panel(url).collect().height == read.panel(sample_run).collect().height


def test_a_new_snapshot_switches_the_manifest_last_and_old_readers_keep_theirs(sample_run, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(sample_run, root)
    first = read.manifest(root)
    held = read.indicators(root).collect()
    day = held["arrival_date"][0]
    storage.write_partition(
        held.filter(pl.col("arrival_date") == day).head(1), root, "curated", "indicators", day
    )
    second = snapshot.publish(root)
    assert second["snapshot"] != first["snapshot"] and read.manifest(root) == second
    assert second["versions"]["curated/indicators"] == first["versions"]["curated/indicators"] + 1
    old = read.snapshot(root, snapshot_id=first["snapshot"])  # its manifest, from the snapshot history
    assert old.manifest == first and old.indicators().collect().height == held.height  # time travel
    assert read.indicators(root).collect().height == second["rows"]["indicators"] < held.height


def test_vacuum_keeps_a_week_of_snapshots_readable_and_then_deletes_them(sample_run, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(sample_run, root)
    first = read.manifest(root)
    snapshot.publish(root)
    assert sum(snapshot.vacuum(root).values()) == 0  # a week's retention: nothing is old enough
    assert read.snapshot(root, snapshot_id=first["snapshot"]).panel().collect().height > 0
    deleted = snapshot.vacuum(root, retention_hours=0)
    assert deleted["curated/indicator_panel"] >= 1  # the first snapshot's panel file
    with pytest.raises(FileNotFoundError, match="vacuumed"):
        read.snapshot(root, snapshot_id=first["snapshot"])
    assert read.panel(root).collect().height == first["rows"]["indicator_panel"]  # the current one stays


def test_sql_over_the_snapshot(sample_run):
    result = sql.query(sample_run, "SELECT count(*) AS n FROM indicators JOIN documents USING (doc_id)")
    assert result["n"][0] == read.indicators(sample_run).collect().height
    panel = sql.query(sample_run, "SELECT region_code, year, indicator FROM indicator_panel")
    assert panel.height == read.panel(sample_run).collect().height


def test_a_snapshot_left_stale_by_a_crash_is_rebuilt_by_the_next_run(tmp_path):
    from conftest import SAMPLE

    from warehouse import ingest, pipeline

    parts = sorted(ingest.discover_partitions(SAMPLE, date(2026, 1, 1)).items())
    root = tmp_path / "root"
    assert snapshot.publish_if_stale(root) is None  # nothing published yet: nothing to build
    (first_day, first_files), (second_day, second_files) = parts[0], parts[1]
    pipeline.run_partition(first_files, first_day, SAMPLE, root, run_id="one", quality=False)
    assert not snapshot.is_current(root)
    assert snapshot.publish_if_stale(root) is not None and snapshot.is_current(root)
    assert snapshot.publish_if_stale(root) is None  # current: not rebuilt
    # a run publishes its partition and dies before the snapshot step
    pipeline.run_partition(second_files, second_day, SAMPLE, root, run_id="two", quality=False)
    assert not snapshot.is_current(root)
    manifest = snapshot.publish_if_stale(root)  # what the next run (even an empty daily run) does
    assert manifest is not None and set(manifest["partitions"]) == {
        first_day.isoformat(),
        second_day.isoformat(),
    }
    assert read.indicators(root).collect()["doc_id"].n_unique() == 2


def test_a_date_another_machine_publishes_during_a_build_is_not_lost_by_this_build(tmp_path, monkeypatch):
    """On object storage no lock holds between machines: while this build reads the inputs it pinned,
    another machine publishes a date and writes its own manifest. This build's manifest, written after,
    must not replace that one with an older view: it sees the layer tables moved and builds again."""
    from conftest import SAMPLE

    from warehouse import ingest, pipeline

    (first_day, first_files), (second_day, second_files) = sorted(
        ingest.discover_partitions(SAMPLE, date(2026, 1, 1)).items()
    )[:2]
    root = tmp_path / "root"
    pipeline.run_partition(first_files, first_day, SAMPLE, root, run_id="here", quality=False)
    real_regions, builds = snapshot.build_regions, []

    def other_machine_meanwhile():
        builds.append(len(builds))
        if len(builds) == 1:  # during the first build, after it pinned its inputs
            pipeline.run_partition(second_files, second_day, SAMPLE, root, run_id="there", quality=False)
            assert set(snapshot._build(root)["partitions"]) == {first_day.isoformat(), second_day.isoformat()}
        return real_regions()

    monkeypatch.setattr(snapshot, "build_regions", other_machine_meanwhile)
    manifest = snapshot.publish(root)
    assert len(builds) == 3  # this build, the other machine's, this build again
    assert set(manifest["partitions"]) == {first_day.isoformat(), second_day.isoformat()}
    assert read.manifest(root) == manifest and snapshot.is_current(root)
    assert read.indicators(root).collect()["doc_id"].n_unique() == 2


def test_a_snapshot_table_another_machine_replaced_meanwhile_is_built_again(
    sample_run, tmp_path, monkeypatch
):
    """Two machines ending their runs together both replace the snapshot's tables: Delta refuses one of the
    two commits (CommitFailedError), and that build starts again instead of failing the run."""
    from deltalake.exceptions import CommitFailedError

    root = tmp_path / "root"
    shutil.copytree(sample_run, root)
    real_write, refused = storage.write_table, []

    def conflicting(df, root_, layer, table):
        if table == "regions" and not refused:
            refused.append(table)
            raise CommitFailedError("a concurrent transaction deleted the same data your transaction deletes")
        return real_write(df, root_, layer, table)

    monkeypatch.setattr(storage, "write_table", conflicting)
    manifest = snapshot.publish(root)
    assert refused == ["regions"] and read.manifest(root) == manifest
    assert read.indicators(root).collect().height == manifest["rows"]["indicators"] > 0


def test_sample_conflicts_are_disagreements_of_values_of_one_scope(sample_run, sample_facts):
    """On the sample, 14 panel rows had 'conflicting values' that were parts of a total, a 由A到B start,
    listed categories or earmarked allocations; what is left are values of one scope that disagree."""
    panel = read.panel(sample_run).collect()
    by_id = {f["fact_id"]: f for f in sample_facts.iter_rows(named=True)}
    conflicted = panel.filter(pl.col("conflicting_values").list.len() > 0)
    assert 0 < conflicted.height <= 4
    for row in conflicted.iter_rows(named=True):
        others = [by_id[f] for f in row["conflicting_fact_ids"]]
        assert {f["role"] for f in others} == {"value"} and by_id[row["chosen_fact_id"]]["role"] == "value"
        assert sorted({f["value"] for f in others}) == row["conflicting_values"]
        assert row["value"] not in row["conflicting_values"] and all(f["evidence"] for f in others)


def test_fact_roles_are_the_schemas():
    from typing import get_args

    from schemas.curated import FACT_ROLES
    from warehouse.extract import FactRole

    assert get_args(FactRole) == FACT_ROLES


def test_a_pinned_snapshot_reads_one_manifest_while_the_next_is_published(sample_run, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(sample_run, root)
    pinned = read.snapshot(root)
    before = pinned.panel().collect().height
    snapshot.publish(root)  # a new snapshot becomes current
    assert read.manifest(root)["snapshot"] != pinned.manifest["snapshot"]
    assert pinned.panel().collect().height == before and pinned.indicators().collect().height > 0


def test_a_snapshot_built_in_buckets_of_panel_keys_is_the_snapshot_built_whole(
    sample_run, tmp_path, monkeypatch
):
    root = tmp_path / "root"
    shutil.copytree(sample_run, root)
    whole = read.snapshot(root, snapshot_id=snapshot.publish(root)["snapshot"])
    built, original = [], snapshot.build_panel
    monkeypatch.setattr(snapshot, "build_panel", lambda *a: built.append(1) or original(*a))
    monkeypatch.setattr(snapshot, "FACTS_PER_BUCKET", 7)
    bucketed = read.snapshot(root, snapshot_id=snapshot.publish(root)["snapshot"])
    assert len(built) > 5  # panels of more than five buckets, written as one commit
    assert bucketed.manifest["rows"] == whole.manifest["rows"]
    keys = {"indicator_panel": snapshot.PANEL_KEY, "documents": ["doc_id"], "indicators": ["fact_id"]}
    for name, key in keys.items():
        one, parts = whole.table(name).collect().sort(key), bucketed.table(name).collect().sort(key)
        assert parts.equals(one), name
