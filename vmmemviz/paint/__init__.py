"""Painting the picture onto any QPainter (screen, PNG, SVG): page grids, arrows, labels
and the legend. Widget-free: the window's items and the exports both paint through here.
Layering: imports scene (and Qt's GUI classes), never engine, export or ui."""
