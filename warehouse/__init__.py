"""Rural-revitalization indicator warehouse: ingest → clean → extract → validate → publish.

The library has no Prefect imports; `flows/` wires these steps into Prefect tasks and flows.
"""

__version__ = "0.1.0"

# Bump when extraction rules or cue tables change in a way that alters facts.
EXTRACTOR_VERSION = "2026.12.02-9"
