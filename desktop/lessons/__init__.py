"""The Lessons dock: the lecture's claims one click away, each with its check."""
