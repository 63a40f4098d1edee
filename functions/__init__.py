"""One package per capability; `router` mounts them all under /api."""
