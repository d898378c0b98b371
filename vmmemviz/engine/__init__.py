"""The bridge between the model and the views: a worker on its own QThread owns the
Timeline, seeks, and sends immutable Frames to the UI, which only paints them."""
