"""Lets the tests import ``srkit_espcn`` from a checkout (before ``pip install``)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
