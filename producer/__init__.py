"""The aiohttp producer: burstlab's one entry point for sync and async jobs."""
