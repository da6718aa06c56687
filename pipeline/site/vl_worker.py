"""Draw the chart images (and, when it is not cached, the Vega bundle) in a helper process.

vl-convert holds the GIL while it draws, so a thread would stop the pages from rendering meanwhile; a
process draws on the other core. build_site starts this file as a script (`python vl_worker.py`): it imports
nothing from the project, only the standard library and vl_convert.

Requests come one JSON object a line on stdin, and are done in order:
  {"spec": {...Vega-Lite...}, "svg": PATH, "png": PATH, "scale": 2}   the SVG, and the PNG rasterised from it
  {"bundle": PATH, "vl_version": "6.4"}                               vlc.javascript_bundle, as UTF-8
End of input: exit 0. Any failure: the traceback on stderr, exit 1. If the build that started it has died (its
process id, the one argument, is no longer the parent), it stops instead of writing into a folder being removed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import vl_convert as vlc

_WARM_UP = {"data": {"values": [{"a": 1}]}, "mark": "point", "encoding": {"x": {"field": "a", "type": "quantitative"}}}


def main() -> int:
    parent = int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid()
    vlc.vegalite_to_svg(_WARM_UP)  # start the JavaScript engine and load Vega while the first spec is being made
    for line in sys.stdin:
        if os.getppid() != parent:
            return 1
        if not line.strip():
            continue
        req = json.loads(line)
        if "bundle" in req:
            Path(req["bundle"]).write_text(vlc.javascript_bundle(vl_version=req["vl_version"]), encoding="utf-8")
        else:
            svg = vlc.vegalite_to_svg(req["spec"])
            Path(req["svg"]).write_text(svg, encoding="utf-8")
            Path(req["png"]).write_bytes(vlc.svg_to_png(svg, scale=req["scale"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
