"""Shared by the conformance scripts (tests/python/*_conformance.py)."""
import os


def assets_dir():
    """Where scripts/fetch-assets.sh puts the real-data assets (the tests' default too)."""
    return os.environ.get("SLIM_ASSETS_DIR") or os.path.join(
        os.environ.get("SLIM_CACHE") or os.path.expanduser("~/.cache/slim"), "assets")
