"""Publish the site atomically: render into a staging folder beside the live one, then swap it in."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def site_dir() -> Path:
    return Path(os.environ.get("DISPLACEMENT_SITE", ROOT / "reports" / "site"))


def publish_site(con, target: Path | None = None) -> dict:
    from pipeline.site.render import build_site

    target = target or site_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.staging-{os.getpid()}")
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        files = build_site(con, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # swap: the live folder is never half-written; at worst, for an instant, it is absent
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return {"path": target, "files": len(files),
            "pages": sorted(p.name for p in target.glob("*.html"))}
