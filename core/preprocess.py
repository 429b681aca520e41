"""Alias of `core.models.preprocess` under its 0.1 name, which models saved before the package move refer to.

A saved pipeline names the classes and functions it was fitted with by module path (skops stores
`core.preprocess.RareCategoryGrouper`); this module keeps those files loading. New code imports
`core.models.preprocess`; `core.store.artifacts.LEGACY_TRUSTED_TYPES` lists exactly what may be loaded from here.
"""

from core.models.preprocess import (  # noqa: F401
    EncodedLabelClassifier,
    RareCategoryGrouper,
    as_flag,
    as_documents,
    as_text,
    date_part_names,
    date_parts,
    few_levels,
    many_levels,
)
