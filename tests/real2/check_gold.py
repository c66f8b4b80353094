#!/usr/bin/env python3
"""Verify tests/real2/gold.jsonl with the checker of tests/real (same rules, same counts table), run on this
folder's docs/ and gold.jsonl. Standard library only; exit status 1 on any error."""

import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
checker = runpy.run_path(os.path.join(HERE, "..", "real", "check_gold.py"), run_name="check_gold")
checker["main"].__globals__.update(DOCS=os.path.join(HERE, "docs"), GOLD=os.path.join(HERE, "gold.jsonl"))
sys.exit(checker["main"]())
