"""frontcache_django: cache groups (RFC 9875) for Django sites behind frontcache.

    from frontcache_django import cache_groups, add_cache_groups, purge_groups, purge_on_save
"""

from .groups import add_cache_groups, cache_groups, invalidate_groups
from .headers import MAX_GROUP_BYTES, MAX_GROUPS, groups_of
from .models import CacheGroupsModelMixin, purge_on_save
from .purge import PurgeError, PurgeResult, purge_groups

__version__ = "0.1.0"

__all__ = ["add_cache_groups", "cache_groups", "invalidate_groups", "groups_of",
           "purge_groups", "PurgeError", "PurgeResult", "purge_on_save", "CacheGroupsModelMixin",
           "MAX_GROUP_BYTES", "MAX_GROUPS"]
