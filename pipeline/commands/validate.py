"""`displacement validate FILE [--json]`: read one file, touch no warehouse, report what was found.

Exit 0 when the file could be read and the build would take it (even with rejected rows); 1 when it
could be read but the build's per-file checks (pipeline/expectations/ingest_files.py) would refuse it: no
row accepted, or one record key on two rows that differ; an unreadable file or unknown format raises InputError,
which pipeline/cli.py prints as one line naming the file, with exit code 2 (with --json, a JSON object
with `readable` false and the `error`, on stdout).
"""

from __future__ import annotations

import json
import sys

from pipeline.schema import InputError, one_line, terminal_json


def register(subparsers) -> None:
    p = subparsers.add_parser("validate", help="read one input file and report every rejected row",
                              description="Detect a file's format, read it and report rows read, accepted, "
                                          "rejected and every rejection (line, column, reason). Nothing is stored.")
    p.add_argument("file", metavar="FILE", help="a CSV, JSON, .xlsx, .gz or .zip file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def file_checks(result, unit: str) -> list[dict]:
    """What the build's per-file checks would refuse the file for (the same rules as
    pipeline/expectations/ingest_files.py), each with the rows concerned."""
    out = []
    if result.rows_read > 0 and result.rows_accepted == 0:
        out.append({"rule": "expect_some_rows_of_each_file_accepted",
                    "message": "every row was set aside: the build refuses a file none of whose rows is accepted "
                               "(a changed export format?)"})
    obs = result.observations
    if len(obs) and "obs_id" in obs.columns:
        rows = obs.loc[obs["obs_id"].duplicated(keep=False), ["obs_id", "ingest_row"]]
        for obs_id, group in rows.groupby("obs_id", sort=False):
            where = sorted({int(r) for r in group["ingest_row"].dropna()})
            places = f"{unit}s {', '.join(map(str, where[:-1]))} and {where[-1]}" if len(where) > 1 else \
                f"{unit} {where[0]}" if where else "two rows"
            out.append({"rule": "expect_obs_id_unique_within_file", unit + "s": where,
                        "message": f"{places} carry the same record key (obs_id {obs_id}): the build refuses a "
                                   "file that repeats a key, as it cannot tell which row is true"})
    return sorted(out, key=lambda c: (c.get(unit + "s") or [0])[0])


def report(path) -> dict:
    from pipeline.sources.detect import read_path

    result = read_path(path)
    unit = result.row_unit  # "line" (header = line 1), or "record" in a JSON file (the first is record 1)
    errors = [{unit: r.line, "column": r.column, "rule": r.rule, "message": r.message, "value": r.value}
              for r in result.rejected]
    out = {
        "file": str(path),
        "readable": True,
        "format": result.format,
        "rows_read": int(result.rows_read),
        "rows_accepted": int(result.rows_accepted),
        "rows_rejected": int(result.rows_rejected),
        "errors": errors,
        "file_checks": file_checks(result, unit),
        "renamed_columns": dict(result.renamed),
    }
    if out["rows_read"] != out["rows_accepted"] + out["rows_rejected"]:  # the invariant, never silently broken
        raise InputError(f"{path}: internal count mismatch ({out['rows_read']} read, {out['rows_accepted']} "
                         f"accepted, {out['rows_rejected']} rejected)")
    out["_observations"] = len(result.observations)
    out["_unit"] = unit
    out["_rejections"] = result.rejected
    return out


def run(args) -> int:
    try:
        out = report(args.file)
    except InputError as exc:
        if not args.json:
            raise  # pipeline/cli.py prints it as one line, exit 2
        # a script reading stdout gets JSON whatever the file: what could not be read, and why
        sys.stdout.write(terminal_json({"file": str(args.file), "readable": False, "error": str(exc)}) + "\n")
        return 2
    rejections = out.pop("_rejections")
    observations = out.pop("_observations")
    unit = out.pop("_unit")
    refused = 1 if out["file_checks"] else 0
    if args.json:
        sys.stdout.write(terminal_json(out) + "\n")
        return refused
    def w(text: str) -> None:  # file names, columns and values come from the input: never terminal controls
        sys.stdout.write(one_line(text[:-1]) + "\n")

    w(f"{args.file}: format {out['format']}\n")
    w(f"  rows read      {out['rows_read']:>10,}\n")
    w(f"  rows accepted  {out['rows_accepted']:>10,}  ({observations:,} observations)\n")
    w(f"  rows rejected  {out['rows_rejected']:>10,}\n")
    for cell, name in out["renamed_columns"].items():
        w(f"  {args.file}: line 1: column {cell!r} is read as {name!r} (the same name but for case or separators)\n")
    if out["rows_read"] == 0:
        w(f"  {args.file}: no data rows (the JSON holds no records)\n" if unit == "record"
          else f"  {args.file}: no data rows (the file has only a header)\n")
    for r in rejections:
        where = (f"{r.file}:{r.line}" if unit == "line" else f"{r.file}: {unit} {r.line}") if r.line is not None \
            else r.file
        column = f" column {r.column}:" if r.column else ""
        value = f" (got {r.value!r})" if r.value is not None else ""
        w(f"  {where}:{column} {r.message}{value}\n")
    for c in out["file_checks"]:
        w(f"  {args.file}: the build would refuse this file: {c['message']}\n")
    return refused
