"""The store: put, open, ls, rm and gc over an object store and a catalog.

:class:`Store` knows nothing of eviction policy, reconstruction or repair: when a file it must read
has been evicted it calls its :class:`Reviver` (the wheel cache of :mod:`casstore.cache` is one), and
the maintenance code of :mod:`casstore.maintenance` works through its public methods.
"""

from .rebuilds import InvalidRecord
from .store import DEFAULT_GRACE, FORMAT_VERSION, TIERS, Reviver, Store, Written

__all__ = ["DEFAULT_GRACE", "FORMAT_VERSION", "TIERS", "InvalidRecord", "Reviver", "Store", "Written"]
