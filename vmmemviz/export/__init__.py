"""Figures and animations of what the views show: PNG, SVG, numbered PNGs, GIF, APNG."""
