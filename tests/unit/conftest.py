"""Makes tests/unit/imagetar.py (the docker-save archive builder) importable as `imagetar`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
