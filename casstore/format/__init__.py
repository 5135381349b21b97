"""The storage format: bytes ↔ recipes, and nothing else (no catalog, no object store).

- :mod:`.compress`: zstd at rest (the one module that imports zstandard);
- :mod:`.deflate`: the pinned deflate engine that re-creates deflate streams bit-exactly;
- :mod:`.split`: a wheel or sdist split into a recipe of member blobs and literal runs;
- :mod:`.recipe`: the recipe's encoding, and rendering it back into the original bytes;
- :mod:`.reader`: a reader that hashes what it hands out and fails at the end on a wrong digest;
- :mod:`.filerecord`: the self-describing record blob written beside every stored file.

docs/format.md describes the bytes on disk.
"""

from .recipe import Recipe, RecipeError

__all__ = ["Recipe", "RecipeError"]
