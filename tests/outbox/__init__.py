"""Tests of the durable outbox (timeback_caliper.outbox)."""
