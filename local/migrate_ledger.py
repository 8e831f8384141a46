"""Decision 16's migration: copy a declarations table keyed by the LRN alone (before the declarant became
part of the key) into the table keyed by LRN and declarant, attributing each declaration to `--declarant`.

    python -m local.migrate_ledger --from <old table> --to <new table> --declarant <role ARN or client id>

Run from an operator's machine with AWS credentials (it is not shipped in a function). Safe to run again:
a declaration already copied is counted, not written twice; a key that holds another declaration in the
new table (lodged there meanwhile) is reported and left as it is. `--dry-run` reads and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Report:
    copied: int = 0
    already: int = 0  # copied by an earlier run
    conflicts: list[str] = field(default_factory=list)  # LRNs whose key holds another declaration

    def __str__(self) -> str:
        text = f"{self.copied} copied, {self.already} already there, {len(self.conflicts)} conflicts"
        return text + (f": {', '.join(self.conflicts)}" if self.conflicts else "")


def migrate(client: Any, source: str, target: str, declarant: str, dry_run: bool = False) -> Report:
    from ecluse.aws import ledger_items
    from ecluse.aws.items import from_item, to_item

    report = Report()
    at = datetime.now(UTC)
    for page in client.get_paginator("scan").paginate(TableName=source, ConsistentRead=True):
        for item in page.get("Items", []):
            values = from_item(item)
            copy = ledger_items.migrated(values, values.get("declarant", declarant), at)
            if dry_run:
                report.copied += 1
                continue
            try:
                client.put_item(TableName=target, Item=to_item(copy), ConditionExpression="attribute_not_exists(lrn)")
                report.copied += 1
            except client.exceptions.ConditionalCheckFailedException:
                key = ledger_items.key(copy["lrn"], copy["declarant"])
                there = from_item(client.get_item(TableName=target, Key=key, ConsistentRead=True).get("Item", {}))
                if ledger_items.MIGRATED in there and there.get("fingerprint") == copy.get("fingerprint"):
                    report.already += 1
                else:
                    report.conflicts.append(copy["lrn"])
    return report


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", required=True, help="the table keyed by LRN alone")
    parser.add_argument("--to", dest="target", required=True, help="the stack's DeclarationsTableName now")
    parser.add_argument("--declarant", required=True, help="whose the existing declarations are")
    parser.add_argument("--dry-run", action="store_true")
    arguments = parser.parse_args(argv)
    report = migrate(
        boto3.client("dynamodb"), arguments.source, arguments.target, arguments.declarant, arguments.dry_run
    )
    print(report)
    return 1 if report.conflicts else 0


if __name__ == "__main__":
    sys.exit(main())
