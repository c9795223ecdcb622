"""The one way JSON reaches standard output. Every document carries `schema_version`;
its JSON Schema is published in `antaeus_cli/schemas/`, and the tests validate real
outputs against it."""

from __future__ import annotations

import json
import sys
from typing import Any

# Bumped when a field changes meaning or goes away; fields may be added within a version.
JSON_SCHEMA_VERSION = 1


def write_json(payload: dict[str, Any]) -> None:
    document = {"schema_version": JSON_SCHEMA_VERSION, **payload}
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
