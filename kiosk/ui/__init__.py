"""The kiosk's terminal user interface (Textual): one screen per documented step."""
