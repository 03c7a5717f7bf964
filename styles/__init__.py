"""The kiosk stylesheet, shipped as package data (`kiosk.styles`)."""
