#!/usr/bin/env python3
"""Check shared/real/gold.jsonl against shared/real/docs/ and the indicator catalog.

Standard library only. Run from anywhere:  python3 check_gold.py
Checks, for every gold row:
  - required keys and types (doc, indicator, value, unit, region, year, optional, evidence);
  - the document exists and the evidence is an exact substring of it;
  - the indicator is a catalog code and the unit is that code's catalog unit;
  - the value appears in the evidence, allowing 万/萬 (x1e4) and 亿/億 (x1e8) scaling, and for
    percent codes a number followed by %;
  - year is null or an integer in 2000..2030; percent values lie in 0..100;
  - no duplicate rows (same doc, indicator, value, region, year and evidence);
and, for the set: every document under docs/ has at least one row, every row's document is
under docs/. Prints a counts table and exits with status 1 on any error.
"""
import csv
import json
import os
import re
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.join(HERE, 'docs')
GOLD = os.path.join(HERE, 'gold.jsonl')
# in this project the catalog lives with the package (a copy of shared/catalog/indicators.csv)
CATALOG = os.path.join(HERE, '..', '..', 'warehouse', 'data', 'indicators.csv')

KEYS = ['doc', 'indicator', 'value', 'unit', 'region', 'year', 'optional', 'evidence']
SCALE = {'': 1, '万': 1e4, '萬': 1e4, '亿': 1e8, '億': 1e8}
NUM_RE = re.compile(r'(\d+(?:\.\d+)?)\s*(万亿|萬億|万|萬|亿|億)?')


def close(a, b):
    return abs(a - b) <= max(0.01, 1e-6 * abs(b))


def value_in_evidence(value, evidence, unit):
    for m in NUM_RE.finditer(evidence):
        n = float(m.group(1))
        suffix = m.group(2) or ''
        if suffix in ('万亿', '萬億'):
            cands = [n * 1e12]
        else:
            cands = [n * SCALE[suffix]]
        if not suffix:
            cands.append(n)
        if unit == 'percent':
            after = evidence[m.end():m.end() + 2]
            if '%' not in after and '％' not in after:
                continue
        if any(close(c, value) for c in cands):
            return True
    return False


def main():
    errors = []
    cat = {}
    with open(CATALOG, encoding='utf-8') as f:
        for r in csv.DictReader(f):
            cat[r['code']] = r['unit']
    docs = sorted(fn for fn in os.listdir(DOCS) if fn.endswith('.txt'))
    texts = {}
    for fn in docs:
        with open(os.path.join(DOCS, fn), encoding='utf-8') as f:
            texts[fn] = f.read()

    rows = []
    with open(GOLD, encoding='utf-8') as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append((i, json.loads(line)))
            except json.JSONDecodeError as e:
                errors.append('line %d: invalid JSON (%s)' % (i, e))

    seen = set()
    for i, r in rows:
        where = 'line %d (%s)' % (i, r.get('doc'))
        missing = [k for k in KEYS if k not in r]
        extra = [k for k in r if k not in KEYS]
        if missing:
            errors.append('%s: missing keys %s' % (where, missing))
            continue
        if extra:
            errors.append('%s: unexpected keys %s' % (where, extra))
        if r['doc'] not in texts:
            errors.append('%s: document not found under docs/' % where)
            continue
        if r['indicator'] not in cat:
            errors.append('%s: unknown indicator %r' % (where, r['indicator']))
            continue
        if r['unit'] != cat[r['indicator']]:
            errors.append('%s: unit %r, catalog says %r' % (where, r['unit'], cat[r['indicator']]))
        if not isinstance(r['value'], (int, float)) or isinstance(r['value'], bool):
            errors.append('%s: value is not a number' % where)
            continue
        if not isinstance(r['optional'], bool):
            errors.append('%s: optional is not a boolean' % where)
        if not isinstance(r['region'], str) or not r['region'].strip():
            errors.append('%s: empty region' % where)
        y = r['year']
        if y is not None and (not isinstance(y, int) or isinstance(y, bool) or not 2000 <= y <= 2030):
            errors.append('%s: bad year %r' % (where, y))
        if not isinstance(r['evidence'], str) or not r['evidence']:
            errors.append('%s: empty evidence' % where)
            continue
        if r['evidence'] not in texts[r['doc']]:
            errors.append('%s: evidence is not an exact substring: %r' % (where, r['evidence']))
        if not value_in_evidence(r['value'], r['evidence'], r['unit']):
            errors.append('%s: value %r not found in evidence %r' % (where, r['value'], r['evidence']))
        if r['unit'] == 'percent' and not 0 <= r['value'] <= 100:
            errors.append('%s: percent value out of 0..100' % where)
        key = (r['doc'], r['indicator'], r['value'], r['region'], r['year'], r['evidence'])
        if key in seen:
            errors.append('%s: duplicate row %r' % (where, key))
        seen.add(key)

    per_doc = OrderedDict((fn, []) for fn in docs)
    for _, r in rows:
        if r.get('doc') in per_doc:
            per_doc[r['doc']].append(r)
    for fn, rs in per_doc.items():
        if not rs:
            errors.append('%s: document has no gold rows' % fn)

    # counts table
    print('| doc | regions (required rows) | years | required | optional | distinct codes |')
    print('| --- | --- | --- | ---: | ---: | ---: |')
    tot_req = tot_opt = 0
    req_codes, any_codes = set(), set()
    for fn, rs in per_doc.items():
        req = [r for r in rs if r.get('optional') is False]
        opt = [r for r in rs if r.get('optional') is True]
        regions = list(OrderedDict.fromkeys(r['region'] for r in req))
        years = sorted({r['year'] for r in rs if r.get('year') is not None})
        if not years:
            ys = 'null'
        elif len(years) == 1:
            ys = str(years[0])
        else:
            ys = '%d-%d' % (years[0], years[-1])
        if any(r.get('year') is None for r in rs) and years:
            ys += ' (+null)'
        codes = {r['indicator'] for r in rs}
        print('| %s | %s | %s | %d | %d | %d |' % (fn, ', '.join(regions), ys, len(req), len(opt), len(codes)))
        tot_req += len(req)
        tot_opt += len(opt)
        req_codes |= {r['indicator'] for r in req}
        any_codes |= codes
    print('| **total** (%d docs) | | | **%d** | **%d** | **%d required / %d any** |'
          % (len(per_doc), tot_req, tot_opt, len(req_codes), len(any_codes)))
    missing_codes = [c for c in cat if c not in req_codes]
    print()
    print('catalog codes without a required row: %s' % (', '.join(missing_codes) or 'none'))
    if errors:
        print()
        print('%d error(s):' % len(errors))
        for e in errors:
            print('  ' + e)
        return 1
    print('OK: %d rows, no errors' % len(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
