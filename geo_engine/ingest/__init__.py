"""Turn layers of every kind (raster, points, lines, polygons, admin tables) into one value per H3 cell."""
