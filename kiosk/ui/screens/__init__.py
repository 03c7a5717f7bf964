"""One module per step of the vendor's guide; `kiosk.ui.app.SCREEN_FOR_STEP` maps steps to them."""
