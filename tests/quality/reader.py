"""A BI-like reader: open the serving file read-only, run one query, close; repeat until stopped.

Runs under any Python with any DuckDB (the test's own 2.0 and a 1.x in its own environment), so
it imports nothing from the project. Usage: ``reader.py SERVING QUERY STOP_FILE OUTPUT_JSON``.
Writes ``OUTPUT_JSON.ready`` (``reader-<name>.ready``) after the first successful query, then
the distinct answers (as text), the number of queries and every error into ``OUTPUT_JSON``.
"""

import json
import os
import sys
import time

import duckdb


def main() -> int:
    serving, query, stop, output = sys.argv[1:5]
    answers = {}
    errors = []
    queries = 0
    ready = output[: -len(".json")] + ".ready"
    started = time.monotonic()
    while True:
        stopping = os.path.exists(stop)
        try:
            con = duckdb.connect(serving, read_only=True)
            try:
                row = con.execute(query).fetchall()[0]
            finally:
                con.close()
            key = json.dumps([str(v) for v in row])
            answers[key] = answers.get(key, 0) + 1
            queries += 1
            if queries == 1:
                open(ready, "w").close()
        except Exception as exc:  # recorded: the test asserts there are none
            errors.append(f"{type(exc).__name__}: {exc}")
            if len(errors) > 50 or time.monotonic() - started > 600:
                break
        if stopping:
            break
    with open(output, "w") as handle:
        json.dump(
            {
                "duckdb": duckdb.__version__,
                "queries": queries,
                "answers": answers,
                "errors": errors,
            },
            handle,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
