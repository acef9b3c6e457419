"""Kernel confinement of file operations: a permission profile as a :class:`FsPolicy`
(:mod:`.policy`, sans-IO), enforced with Landlock on a short-lived thread (:mod:`.landlock`)."""

from .landlock import LandlockUnavailable, landlock_abi, run_restricted
from .policy import FsPolicy, PolicyUnsupported, fs_policy

__all__ = [
    "FsPolicy",
    "LandlockUnavailable",
    "PolicyUnsupported",
    "fs_policy",
    "landlock_abi",
    "run_restricted",
]
