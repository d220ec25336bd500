"""The views: each a QWidget tab that draws what the engine streams."""
