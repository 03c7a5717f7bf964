"""Small widgets shared by the kiosk's screens."""
