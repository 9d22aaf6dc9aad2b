"""Snakemake storage plugin for Score: ``storage.score("score://<object-id>")`` as a rule's input or output.

Snakemake finds the plugin by its module name (``snakemake_storage_plugin_*``) and reads these three names:
:class:`StorageProvider`, :class:`StorageObject` and :class:`StorageProviderSettings`.
"""

from snakemake_storage_plugin_score.settings import StorageProviderSettings
from snakemake_storage_plugin_score.storage import StorageObject, StorageProvider

__all__ = ["StorageObject", "StorageProvider", "StorageProviderSettings"]
