"""Golden documents written for this project (tests/golden/): formats, encodings and places the sample lacks."""

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from warehouse import evaluate, ingest, pipeline, storage

GOLDEN = Path(__file__).parent / "golden"
HOLDOUT = Path(__file__).parent / "holdout"


@pytest.fixture(scope="module")
def golden_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    docs = GOLDEN / "docs"
    ((day, files),) = ingest.discover_partitions(docs, date(2026, 1, 1)).items()
    summary = pipeline.run_partition(files, day, docs, root, run_id="golden", quality=False)
    assert summary.documents == len(files) and summary.quarantined == 0
    return root


def test_gold_file_is_consistent_with_its_documents():
    done = subprocess.run([sys.executable, str(GOLDEN / "check_gold.py")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_every_format_and_encoding_is_staged(golden_root):
    raw = storage.read_table(golden_root, "raw", "documents")
    staged = storage.read_table(golden_root, "staged", "documents")
    assert set(raw["encoding"].drop_nulls()) >= {"utf-8", "utf-8-sig", "utf-16", "gb18030"}
    assert set(staged["format"]) >= {"jekyll", "html", "docx", "portal_text", "word_text"}


def test_every_fact_points_at_its_mention(golden_root):
    texts = dict(storage.read_table(golden_root, "staged", "documents").select("doc_id", "text").iter_rows())
    facts = storage.read_table(golden_root, "curated", "indicators")
    assert facts.height > 100
    for f in facts.iter_rows(named=True):
        assert texts[f["doc_id"]][f["char_start"] : f["char_end"]] == f["mention"]
        assert f["mention"] in f["evidence"]


@pytest.fixture(scope="module")
def holdout_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("holdout")
    docs = HOLDOUT / "docs"
    ((day, files),) = ingest.discover_partitions(docs, date(2026, 1, 1)).items()
    summary = pipeline.run_partition(files, day, docs, root, run_id="holdout", quality=False)
    assert summary.documents == len(files) and summary.quarantined == 0
    return root


def test_holdout_gold_file_is_consistent_with_its_documents():
    done = subprocess.run([sys.executable, str(HOLDOUT / "check_gold.py")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_holdout_scores_do_not_regress(holdout_root):
    facts = storage.read_table(holdout_root, "curated", "indicators")
    texts = dict(storage.read_table(holdout_root, "staged", "documents").select("doc_id", "text").iter_rows())
    for f in facts.iter_rows(named=True):
        assert texts[f["doc_id"]][f["char_start"] : f["char_end"]] == f["mention"]
    result = evaluate.score_table(facts, evaluate.load_gold(HOLDOUT / "gold.jsonl"))
    print(result.summary())
    assert result.f1 >= 0.93 and result.region_accuracy >= 0.95 and result.year_accuracy >= 0.88


def test_golden_scores_do_not_regress(golden_root):
    facts = storage.read_table(golden_root, "curated", "indicators")
    result = evaluate.score_table(facts, evaluate.load_gold(GOLDEN / "gold.jsonl"))
    print(result.summary())
    assert result.f1 >= 0.95 and result.region_accuracy >= 0.95 and result.year_accuracy >= 0.88
