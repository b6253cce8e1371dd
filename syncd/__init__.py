"""syncd: keeps customer and partner onboarding running out of Dolibarr."""
