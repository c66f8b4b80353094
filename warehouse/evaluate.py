"""Score curated facts against a gold JSONL file (matching rules of shared/README.md).

Per document (by source file name) a predicted fact matches a gold row with the same indicator whose value
is within max(0.01, 1e-6 × |gold|). Each gold row matches at most one prediction; required rows are tried
before optional ones. Matches to required rows are true positives, matches to optional rows are ignored,
other predictions are false positives, unmatched required rows false negatives. Region accuracy: share of
true positives whose region name equals the gold region; year accuracy: the same over true positives
whose gold year is not null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    optional_matched: int = 0
    region_hits: int = 0
    year_hits: int = 0
    year_total: int = 0
    false_positives: list[dict[str, Any]] = field(default_factory=list)
    false_negatives: list[dict[str, Any]] = field(default_factory=list)
    wrong_region: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    wrong_year: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def region_accuracy(self) -> float:
        return self.region_hits / self.tp if self.tp else 0.0

    @property
    def year_accuracy(self) -> float:
        return self.year_hits / self.year_total if self.year_total else 0.0

    def summary(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "region_accuracy": round(self.region_accuracy, 4),
            "year_accuracy": round(self.year_accuracy, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "optional_matched": self.optional_matched,
        }


def load_gold(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{n}: a gold row must be a JSON object")
            missing = {"doc", "indicator", "value", "region", "year", "optional"} - row.keys()
            if missing:
                raise ValueError(f"{path}:{n}: gold row lacks {sorted(missing)}")
            rows.append(row)
    return rows


def _matches(pred: dict[str, Any], gold: dict[str, Any]) -> bool:
    tol = max(0.01, 1e-6 * abs(gold["value"]))
    return pred["indicator"] == gold["indicator"] and abs(pred["value"] - gold["value"]) <= tol


def score(predictions: list[dict[str, Any]], gold: list[dict[str, Any]]) -> Score:
    """Predictions carry source_file, indicator, value, region_name, year; gold rows as in dev.jsonl.
    Only documents that appear in the gold file are scored."""
    result = Score()
    gold_by_doc: dict[str, list[dict[str, Any]]] = {}
    for g in gold:
        gold_by_doc.setdefault(g["doc"], []).append(g)
    predicted: dict[str, list[dict[str, Any]]] = {}
    for p in predictions:
        predicted.setdefault(p["source_file"], []).append(p)
    for doc in sorted(gold_by_doc):
        golds = gold_by_doc[doc]
        used = [False] * len(golds)
        for pred in predicted.get(doc, []):
            order = [i for i, g in enumerate(golds) if not g["optional"]] + [
                i for i, g in enumerate(golds) if g["optional"]
            ]
            hit = next((i for i in order if not used[i] and _matches(pred, golds[i])), None)
            if hit is None:
                result.fp += 1
                result.false_positives.append(pred)
                continue
            used[hit] = True
            g = golds[hit]
            if g["optional"]:
                result.optional_matched += 1
                continue
            result.tp += 1
            if pred.get("region_name") == g["region"]:
                result.region_hits += 1
            else:
                result.wrong_region.append((pred, g))
            if g["year"] is not None:
                result.year_total += 1
                if pred.get("year") == g["year"]:
                    result.year_hits += 1
                else:
                    result.wrong_year.append((pred, g))
        for i, g in enumerate(golds):
            if not used[i] and not g["optional"]:
                result.fn += 1
                result.false_negatives.append(g)
    return result


def score_table(facts: pl.DataFrame, gold: list[dict[str, Any]]) -> Score:
    cols = ["source_file", "indicator", "value", "region_name", "year", "mention", "evidence"]
    return score(facts.select(cols).to_dicts(), gold)
