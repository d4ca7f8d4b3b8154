"""``python manage.py timeback_caliper_check``."""
