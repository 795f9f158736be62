"""Dashboard surfaces: the forked orders dashboard (``orders``) and the package's own app."""
