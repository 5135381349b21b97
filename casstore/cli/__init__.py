"""The ``casstore`` command line: a thin layer over the library, one module per command group.

:mod:`.main` has the group and :func:`main` (library errors become one line there, in one place);
:mod:`.context` the shared store context and :func:`pass_store` for plugin commands; :mod:`.output`
the JSON-or-table helpers; :mod:`.store`, :mod:`.maintenance`, :mod:`.cache`, :mod:`.index` and
:mod:`.demo` the commands.
"""

from .context import DEFAULT_STORE, StoreContext, pass_store
from .main import cli, main

__all__ = ["DEFAULT_STORE", "StoreContext", "cli", "main", "pass_store"]
