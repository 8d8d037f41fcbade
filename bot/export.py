"""Write exported corrections as JSONL or CSV: the input of the next training run."""
from __future__ import annotations

import csv
import json
from typing import Iterable, Mapping, TextIO

FIELDS = ("message_id", "user_id", "text", "predicted", "corrected", "created_at", "updated_at")


def write_corrections(rows: Iterable[Mapping], out: TextIO, fmt: str) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k) for k in FIELDS})
            count += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps({k: row.get(k) for k in FIELDS}, ensure_ascii=False) + "\n")
            count += 1
    else:
        raise ValueError(f"unknown format {fmt!r}")
    out.flush()
    return count
