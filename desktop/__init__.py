"""Descent's Qt desktop application. Imports engine; engine never imports this."""
