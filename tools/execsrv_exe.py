"""The single-file executable's script (``python -m nox -s exe`` builds it with
PyInstaller): see :mod:`execsrv.frozen`. Outside the package, so that building
from it puts no execsrv module (``execsrv/http``) in the place of a standard one."""

import sys

from execsrv.frozen import main

sys.exit(main())
