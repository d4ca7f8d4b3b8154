"""The Timeback profile (placeholder: filled in by the Timeback issue)."""
