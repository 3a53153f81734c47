"""``srbench new-plugin``: a ready-to-install plugin distribution rendered from templates."""
