"""The bridge: turn classification, delivery and the one seam to the Bot Framework SDK."""
