"""Burst-load experiments: scenarios, schedules, theory, statistics and reports (pure logic)."""
