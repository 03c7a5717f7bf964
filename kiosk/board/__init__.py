"""The onboarding board: a live view of a cohort for IT staff (`kiosk onboard`)."""
