"""Print the API's OpenAPI document (`make openapi` writes it to docs/openapi.json)."""

from __future__ import annotations

import json
import os


def document() -> str:
    from local.functions import load

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")
    api = load(
        "api",
        {
            "DECLARATIONS_TABLE": "declarations",
            "SYSTEMS_TABLE": "systems",
            "SUBMIT_QUEUE_URL": "https://sqs.eu-west-3.amazonaws.com/000000000000/submit.fifo",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
        },
    )
    spec = json.loads(api.app.get_openapi_json_schema(title="Écluse", version="1.0.0"))
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(document(), end="")
