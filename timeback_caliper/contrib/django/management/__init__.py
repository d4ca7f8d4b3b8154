"""Django management commands of ``timeback_caliper.contrib.django``."""
