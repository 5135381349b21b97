"""Wheels as a cache: which may be evicted (:mod:`.policy`, pure), evicting them (:mod:`.evict`),
bringing them back (:mod:`.reconstruct`, one at a time per wheel: :mod:`.singleflight`), and the
:class:`WheelCache` that ties these to a store as its reviver."""

from .evict import EvictReport, ProjectReclaim
from .policy import Candidate, Eligibility, Policy, eligibility, plan
from .reconstruct import Rebuilder, Reconstruction, ReconstructionFailed
from .wheelcache import WheelCache

__all__ = ["Candidate", "Eligibility", "EvictReport", "Policy", "ProjectReclaim", "Rebuilder", "Reconstruction",
           "ReconstructionFailed", "WheelCache", "eligibility", "plan"]
