# The guest program's modules import each other by bare name (runner.py puts this folder on sys.path, in
# the guest and in split mode's host sandbox); importing them from the host's tests needs the same.
import os as _os
import sys as _sys

_here = _os.path.dirname(_os.path.abspath(__file__))
if _here not in _sys.path:
    _sys.path.append(_here)
