"""A county's network of halls: regions and levels, one catalog authorised per hall."""
