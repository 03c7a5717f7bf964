"""Onboarding handouts: one PDF page per person (`kiosk cohort handout`)."""
