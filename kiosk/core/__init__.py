"""The rules of the kiosk. Nothing here imports Textual (a test enforces it)."""
